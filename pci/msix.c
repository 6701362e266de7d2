// SPDX-License-Identifier: Apache-2.0
/*
 * MSI-X capability, table and PBA (PCI 3.0 6.8.2) and the mask/pending state machine
 * (6.8.3.4-6.8.3.5). Lock order: segment config lock -> MSI-X lock -> whatever the VMM's
 * msix_irq_ops take; the MSI-X lock is never held while taking the config lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pci/internal.h"
#include "pci/msix.h"
#include "base/log.h"

static bool bit_get(const uint64_t *map, unsigned n)
{
	return map[n / 64] >> (n % 64) & 1;
}

static void bit_set(uint64_t *map, unsigned n, bool on)
{
	if (on)
		map[n / 64] |= 1ULL << (n % 64);
	else
		map[n / 64] &= ~(1ULL << (n % 64));
}

static bool bar_holds(const struct pci_dev *dev, unsigned bar, uint64_t off, uint64_t len)
{
	const struct pci_bar *b = bar < PCI_NR_BARS ? &dev->bar[bar] : NULL;

	return b && (b->type == PCI_BAR_MEM32 || b->type == PCI_BAR_MEM64) && !(off & 7) &&
	       off < b->size && len <= b->size - off;
}

static int msix_check(const struct pci_dev *dev, unsigned nr, unsigned table_bar,
		      uint32_t table_off, unsigned pba_bar, uint32_t pba_off)
{
	if (!nr || nr > MSIX_MAX_VECTORS)
		return -EINVAL;
	/* Offsets are QWORD aligned: bits 2:0 of the registers carry the BIR (6.8.2.4-5). */
	if (!bar_holds(dev, table_bar, table_off, msix_table_bytes(nr)) ||
	    !bar_holds(dev, pba_bar, pba_off, msix_pba_bytes(nr)))
		return -EINVAL;
	if (table_bar == pba_bar &&
	    table_off < pba_off + msix_pba_bytes(nr) && pba_off < table_off + msix_table_bytes(nr))
		return -EINVAL;
	return 0;
}

static int msix_alloc(struct msix *m, unsigned nr)
{
	unsigned v, words = (nr + 63) / 64;

	m->table = calloc(nr, sizeof(*m->table));
	m->pba = calloc(words, sizeof(*m->pba));
	m->routed = calloc(words, sizeof(*m->routed));
	if (!m->table || !m->pba || !m->routed)
		return -ENOMEM;
	/* Every vector masked after reset (6.8.2.9). */
	for (v = 0; v < nr; v++)
		m->table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	return 0;
}

static void msix_free(struct msix *m)
{
	free(m->table);
	free(m->pba);
	free(m->routed);
	m->table = NULL;
	m->pba = m->routed = NULL;
}

int msix_init(struct msix *m, struct pci_dev *dev, unsigned nr, unsigned table_bar,
	      uint32_t table_off, unsigned pba_bar, uint32_t pba_off,
	      const struct msix_irq_ops *ops, void *ctx)
{
	int ret = msix_check(dev, nr, table_bar, table_off, pba_bar, pba_off), cap;

	memset(m, 0, sizeof(*m));
	if (ret)
		return ret;
	ret = msix_alloc(m, nr);
	if (ret)
		goto err_free;
	if (pthread_mutex_init(&m->lock, NULL)) {
		ret = -ENOMEM;
		goto err_free;
	}
	cap = pci_cap_add(dev, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
	if (cap < 0) {
		ret = cap;
		goto err_mutex;
	}
	m->dev = dev;
	m->nr = nr;
	m->cap = (unsigned)cap;
	m->table_bar = table_bar;
	m->table_off = table_off;
	m->pba_bar = pba_bar;
	m->pba_off = pba_off;
	m->ops = ops;
	m->ctx = ctx;
	/* Table Size (N - 1) read-only; only Function Mask and Enable writable (6.8.2.3). */
	pci_cfg_set16(dev, m->cap + PCI_MSIX_FLAGS, (uint16_t)(nr - 1));
	pci_cfg_set_wmask(dev, m->cap + PCI_MSIX_FLAGS, 2,
			  PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	pci_cfg_set32(dev, m->cap + PCI_MSIX_TABLE, table_off | table_bar);
	pci_cfg_set32(dev, m->cap + PCI_MSIX_PBA, pba_off | pba_bar);
	dev->msix = m;
	return 0;
err_mutex:
	pthread_mutex_destroy(&m->lock);
err_free:
	msix_free(m);
	return ret;
}

void msix_destroy(struct msix *m)
{
	if (m->dev && m->dev->msix == m)
		m->dev->msix = NULL;
	msix_free(m);
	pthread_mutex_destroy(&m->lock);
}

static bool vector_masked(const struct msix *m, unsigned v)
{
	return !m->enabled || m->fmask || (m->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void route_update(struct msix *m, unsigned v, bool routed)
{
	const struct msix_entry *e = &m->table[v];
	uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;

	bit_set(m->routed, v, routed);
	if (m->ops && m->ops->update_route &&
	    m->ops->update_route(m->ctx, v, addr, e->data, !routed))
		m->route_errors++;
}

static int deliver(struct msix *m, unsigned v)
{
	int ret = m->ops && m->ops->trigger ? m->ops->trigger(m->ctx, v) : -EOPNOTSUPP;

	if (ret)
		m->route_errors++;
	return ret;
}

/*
 * Brings the routes of vectors [first, last] in line with their mask state (and re-routes
 * unmasked ones when @readdress), commits once, then delivers what was pending and is now
 * unmasked: routes exist before anything is triggered (PCI 3.0 6.8.2). MSI-X lock held.
 */
static void msix_sync(struct msix *m, unsigned first, unsigned last, bool readdress)
{
	bool changed = false;
	unsigned v;

	for (v = first; v <= last; v++) {
		bool want = !vector_masked(m, v);

		if (want == bit_get(m->routed, v) && !(want && readdress))
			continue;
		route_update(m, v, want);
		changed = true;
	}
	if (changed && m->ops && m->ops->commit_routes && m->ops->commit_routes(m->ctx))
		m->route_errors++;
	for (v = first; v <= last; v++) {
		if (!vector_masked(m, v) && bit_get(m->pba, v)) {
			bit_set(m->pba, v, false);
			deliver(m, v);
		}
	}
}

void msix_sync_all_locked(struct msix *m)
{
	msix_sync(m, 0, m->nr - 1, false);
}

void msix_cfg_written(struct msix *m, unsigned off, unsigned len)
{
	uint16_t ctl;

	if (!pci_ranges_overlap(off, len, m->cap + PCI_MSIX_FLAGS, 2))
		return;
	ctl = pci_cfg_get16(m->dev, m->cap + PCI_MSIX_FLAGS);
	pthread_mutex_lock(&m->lock);
	if (m->enabled != !!(ctl & PCI_MSIX_FLAGS_ENABLE) ||
	    m->fmask != !!(ctl & PCI_MSIX_FLAGS_MASKALL)) {
		m->enabled = ctl & PCI_MSIX_FLAGS_ENABLE;
		m->fmask = ctl & PCI_MSIX_FLAGS_MASKALL;
		msix_sync(m, 0, m->nr - 1, false);
	}
	pthread_mutex_unlock(&m->lock);
}

/* Aligned DWORD or QWORD inside [0, @limit) (6.8.2: other accesses are undefined). */
static bool access_ok(uint64_t off, unsigned len, uint64_t limit)
{
	return (len == 4 || len == 8) && !(off & (len - 1)) && off < limit && len <= limit - off;
}

static void ignore(struct msix *m, uint8_t *data, unsigned len)
{
	__atomic_add_fetch(&m->ignored, 1, __ATOMIC_RELAXED);
	if (data)
		memset(data, 0xff, len);
}

static uint32_t *entry_dword(struct msix *m, uint64_t off)
{
	return &((uint32_t *)&m->table[off / MSIX_ENTRY_SIZE])[off % MSIX_ENTRY_SIZE / 4];
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void msix_table_read(struct msix *m, uint64_t off, uint8_t *data, unsigned len)
{
	unsigned i;

	if (!access_ok(off, len, msix_table_bytes(m->nr))) {
		ignore(m, data, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < len; i += 4)
		put_le32(data + i, *entry_dword(m, off + i));
	pthread_mutex_unlock(&m->lock);
}

void msix_table_write(struct msix *m, uint64_t off, const uint8_t *data, unsigned len)
{
	unsigned v = (unsigned)(off / MSIX_ENTRY_SIZE), i;
	struct msix_entry old;
	struct msix_entry *e;

	if (!access_ok(off, len, msix_table_bytes(m->nr))) {
		ignore(m, NULL, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	e = &m->table[v];
	old = *e;
	for (i = 0; i < len; i += 4)
		*entry_dword(m, off + i) = get_le32(data + i);
	/* Vector Control: only the Mask bit is defined, the rest reads zero (6.8.2.9). */
	e->ctrl &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
	if (old.ctrl != e->ctrl || old.addr_lo != e->addr_lo || old.addr_hi != e->addr_hi ||
	    old.data != e->data)
		msix_sync(m, v, v, old.ctrl == e->ctrl);
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(struct msix *m, uint64_t off, uint8_t *data, unsigned len)
{
	uint64_t word;
	unsigned i;

	if (!access_ok(off, len, msix_pba_bytes(m->nr))) {
		ignore(m, data, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	word = m->pba[off / 8];
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(word >> (8 * (off % 8 + i)));
}

/* The PBA is read-only to software (6.8.2.10): every write is ignored, and counted. */
void msix_pba_write(struct msix *m, uint64_t off, const uint8_t *data, unsigned len)
{
	(void)off;
	(void)data;
	ignore(m, NULL, len);
}

int msix_notify(struct msix *m, unsigned vector)
{
	int ret = 0;

	if (vector >= m->nr)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (vector_masked(m, vector))
		bit_set(m->pba, vector, true);
	else
		ret = deliver(m, vector);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

bool msix_enabled(struct msix *m)
{
	bool on;

	pthread_mutex_lock(&m->lock);
	on = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return on;
}

int msix_vector_fd(struct msix *m, unsigned vector)
{
	if (vector >= m->nr || !m->ops->vector_fd || !msix_enabled(m))
		return -1;
	return m->ops->vector_fd(m->ctx, vector);
}

bool msix_pending(struct msix *m, unsigned vector)
{
	bool p;

	if (vector >= m->nr)
		return false;
	pthread_mutex_lock(&m->lock);
	p = bit_get(m->pba, vector);
	pthread_mutex_unlock(&m->lock);
	return p;
}

uint64_t msix_ignored(struct msix *m)
{
	return __atomic_load_n(&m->ignored, __ATOMIC_RELAXED);
}
