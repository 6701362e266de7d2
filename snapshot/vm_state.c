// SPDX-License-Identifier: Apache-2.0
/*
 * VM-wide KVM state: kvmclock, the in-kernel irqchip (8259 master/slave, IOAPIC) and the PIT.
 * Restore sets the clock last and with flags 0: the guest's clock resumes from the saved value,
 * so neither the time spent saved nor the time spent restoring shows up as a jump.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "snapshot/internal.h"

#define IOAPIC_BASE 0xfec00000ULL     /* where KVM_CREATE_IRQCHIP put it */
#define CLOCK_FLAGS (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)

#define K(m) SNAP_F(struct kvm_clock_data, m)
static const struct snap_field clock_fields[] = {
	K(clock), SNAP_FMAX(struct kvm_clock_data, flags, CLOCK_FLAGS), K(realtime), K(host_tsc),
};

#define P(m) SNAP_F(struct kvm_pic_state, m)
#define PB(m) SNAP_FMAX(struct kvm_pic_state, m, 1)
static const struct snap_field pic_fields[] = {
	P(last_irr), P(irr), P(imr), P(isr), SNAP_FMAX(struct kvm_pic_state, priority_add, 7),
	P(irq_base), PB(read_reg_select), PB(poll), PB(special_mask),
	SNAP_FMAX(struct kvm_pic_state, init_state, 3), PB(auto_eoi), PB(rotate_on_auto_eoi),
	PB(special_fully_nested_mode), PB(init4), P(elcr), P(elcr_mask),
};

static const struct snap_field ioapic_fields[] = {
	SNAP_F(struct kvm_ioapic_state, base_address),
	SNAP_FMAX(struct kvm_ioapic_state, ioregsel, 0xff),
	SNAP_FMAX(struct kvm_ioapic_state, id, 0xff),
	SNAP_FMAX(struct kvm_ioapic_state, irr, (1u << KVM_IOAPIC_NUM_PINS) - 1),
	{ "redirtbl", offsetof(struct kvm_ioapic_state, redirtbl), 8, KVM_IOAPIC_NUM_PINS, 0 },
};

/* i8254 read/write states are RW_STATE_LSB (1) .. RW_STATE_WORD1 (4). */
#define T(m) SNAP_F(struct kvm_pit_channel_state, m)
#define TM(m, mx) SNAP_FMAX(struct kvm_pit_channel_state, m, mx)
static const struct snap_field pit_channel_fields[] = {
	TM(count, 0x10000), T(latched_count), TM(count_latched, 4), TM(status_latched, 1),
	T(status), TM(read_state, 4), TM(write_state, 4), T(write_latch), TM(rw_mode, 3),
	T(mode), TM(bcd, 1), TM(gate, 1), T(count_load_time),
};

static const struct snap_field pit_flags_field[] = {
	SNAP_FMAX(struct kvm_pit_state2, flags,
		  KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON),
};

static int vm_ioctl(int fd, unsigned long req, void *arg, const char *what, char *err,
		    size_t errlen)
{
	if (ioctl(fd, req, arg) < 0)
		return set_err(err, errlen, -errno, "%s: %s", what, strerror(errno));
	return 0;
}

int snap_clock_save(int vm_fd, struct kvm_clock_data *out)
{
	memset(out, 0, sizeof(*out));
	return ioctl(vm_fd, KVM_GET_CLOCK, out) ? -errno : 0;
}

int snap_clock_restore(int vm_fd, const struct kvm_clock_data *c)
{
	struct kvm_clock_data set = { .clock = c->clock };   /* flags 0: exactly this value */

	return ioctl(vm_fd, KVM_SET_CLOCK, &set) ? -errno : 0;
}

static int irqchip_get(int vm_fd, unsigned chip, void *out, size_t len, char *err,
		       size_t errlen)
{
	struct kvm_irqchip c = { .chip_id = chip };
	int ret = vm_ioctl(vm_fd, KVM_GET_IRQCHIP, &c, "KVM_GET_IRQCHIP", err, errlen);

	if (!ret)
		memcpy(out, &c.chip, len);
	return ret;
}

static int irqchip_set(int vm_fd, unsigned chip, const void *in, size_t len, char *err,
		       size_t errlen)
{
	struct kvm_irqchip c = { .chip_id = chip };

	memcpy(&c.chip, in, len);
	return vm_ioctl(vm_fd, KVM_SET_IRQCHIP, &c, "KVM_SET_IRQCHIP", err, errlen);
}

int snap_vm_save(int vm_fd, const struct kvm_clock_data *paused_clock, struct snap_vm *s,
		 char *err, size_t errlen)
{
	int ret = 0;

	memset(s, 0, sizeof(*s));
	if (paused_clock)
		s->clock = *paused_clock;
	else if ((ret = snap_clock_save(vm_fd, &s->clock)))
		return set_err(err, errlen, ret, "KVM_GET_CLOCK: %s", strerror(-ret));
	ret = irqchip_get(vm_fd, KVM_IRQCHIP_PIC_MASTER, &s->pic_master, sizeof(s->pic_master),
			  err, errlen);
	ret = ret ?: irqchip_get(vm_fd, KVM_IRQCHIP_PIC_SLAVE, &s->pic_slave,
				 sizeof(s->pic_slave), err, errlen);
	ret = ret ?: irqchip_get(vm_fd, KVM_IRQCHIP_IOAPIC, &s->ioapic, sizeof(s->ioapic), err,
				 errlen);
	ret = ret ?: vm_ioctl(vm_fd, KVM_GET_PIT2, &s->pit, "KVM_GET_PIT2", err, errlen);
	return ret;
}

int snap_vm_restore(int vm_fd, const struct snap_vm *s, char *err, size_t errlen)
{
	int ret;

	ret = vm_ioctl(vm_fd, KVM_SET_PIT2, (void *)&s->pit, "KVM_SET_PIT2", err, errlen);
	ret = ret ?: irqchip_set(vm_fd, KVM_IRQCHIP_PIC_MASTER, &s->pic_master,
				 sizeof(s->pic_master), err, errlen);
	ret = ret ?: irqchip_set(vm_fd, KVM_IRQCHIP_PIC_SLAVE, &s->pic_slave,
				 sizeof(s->pic_slave), err, errlen);
	ret = ret ?: irqchip_set(vm_fd, KVM_IRQCHIP_IOAPIC, &s->ioapic, sizeof(s->ioapic), err,
				 errlen);
	if (!ret && (ret = snap_clock_restore(vm_fd, &s->clock)))
		set_err(err, errlen, ret, "KVM_SET_CLOCK: %s", strerror(-ret));
	return ret;
}

/* ------------------------------------------------------------------ JSON */

static const char *const vm_keys[] = { "clock", "pic_master", "pic_slave", "ioapic", "pit", NULL };
static const char *const pit_keys[] = { "channels", NULL };

static bool put_pit(cJSON *o, const struct kvm_pit_state2 *pit)
{
	cJSON *sub = cJSON_AddObjectToObject(o, "pit"), *arr;
	unsigned i;

	if (!sub || snap_fields_put(sub, pit, pit_flags_field, 1))
		return false;
	arr = cJSON_AddArrayToObject(sub, "channels");
	for (i = 0; arr && i < 3; i++) {
		cJSON *ch = cJSON_CreateObject();

		if (!cJSON_AddItemToArray(arr, ch) ||
		    snap_fields_put(ch, &pit->channels[i], pit_channel_fields,
				    SNAP_ARRAY_SIZE(pit_channel_fields)))
			return false;
	}
	return arr != NULL;
}

cJSON *snap_vm_to_json(const struct snap_vm *s)
{
	cJSON *o = cJSON_CreateObject();

	if (o &&
	    !snap_put_table(o, "clock", &s->clock, clock_fields, SNAP_ARRAY_SIZE(clock_fields)) &&
	    !snap_put_table(o, "pic_master", &s->pic_master, pic_fields,
			    SNAP_ARRAY_SIZE(pic_fields)) &&
	    !snap_put_table(o, "pic_slave", &s->pic_slave, pic_fields,
			    SNAP_ARRAY_SIZE(pic_fields)) &&
	    !snap_put_table(o, "ioapic", &s->ioapic, ioapic_fields,
			    SNAP_ARRAY_SIZE(ioapic_fields)) &&
	    put_pit(o, &s->pit))
		return o;
	cJSON_Delete(o);
	return NULL;
}

static int get_pit(const cJSON *o, struct kvm_pit_state2 *pit, struct snap_ctx *c)
{
	const cJSON *sub, *arr, *ch;
	size_t mark;
	int i = 0;

	if (snap_get_table(o, "pit", pit, pit_flags_field, 1, pit_keys, c))
		return -EINVAL;
	sub = cJSON_GetObjectItemCaseSensitive(o, "pit");
	mark = snap_ctx_push(c, "pit", 0);
	arr = snap_get_array(sub, "channels", c);
	if (!arr)
		return -EINVAL;
	if (cJSON_GetArraySize(arr) != 3)
		return snap_fail(c, "channels", "expected 3 channels");
	snap_ctx_push(c, "channels", 0);
	cJSON_ArrayForEach(ch, arr) {
		size_t m = snap_ctx_push(c, NULL, i);

		if (snap_fields_get(ch, &pit->channels[i], pit_channel_fields,
				    SNAP_ARRAY_SIZE(pit_channel_fields), NULL, c))
			return -EINVAL;
		/* i8254 modes 0-5; KVM marks a never-programmed channel with 0xff. */
		if (pit->channels[i].mode > 5 && pit->channels[i].mode != 0xff)
			return snap_fail(c, "mode", "0x%x is not a PIT mode (0-5, or 0xff unused)",
					 pit->channels[i].mode);
		i++;
		snap_ctx_pop(c, m);
	}
	snap_ctx_pop(c, mark);
	return 0;
}

int snap_vm_from_json(const cJSON *o, struct snap_vm *s, char *err, size_t errlen)
{
	struct snap_ctx c;
	int ret;

	memset(s, 0, sizeof(*s));
	snap_ctx_init(&c, SNAP_STATE_FILE, "vm", err, errlen);
	if (!cJSON_IsObject(o))
		return snap_fail(&c, NULL, "expected an object");
	ret = snap_check_keys(o, vm_keys, &c);
	ret = ret ?: snap_get_table(o, "clock", &s->clock, clock_fields,
				    SNAP_ARRAY_SIZE(clock_fields),
			       NULL, &c);
	ret = ret ?: snap_get_table(o, "pic_master", &s->pic_master, pic_fields,
			       SNAP_ARRAY_SIZE(pic_fields), NULL, &c);
	ret = ret ?: snap_get_table(o, "pic_slave", &s->pic_slave, pic_fields,
			       SNAP_ARRAY_SIZE(pic_fields), NULL, &c);
	ret = ret ?: snap_get_table(o, "ioapic", &s->ioapic, ioapic_fields,
			       SNAP_ARRAY_SIZE(ioapic_fields), NULL, &c);
	ret = ret ?: get_pit(o, &s->pit, &c);
	if (!ret && s->ioapic.base_address != IOAPIC_BASE)
		ret = snap_fail(&c, "ioapic.base_address", "0x%llx, the IOAPIC is at 0x%llx",
				(unsigned long long)s->ioapic.base_address, IOAPIC_BASE);
	return ret;
}
