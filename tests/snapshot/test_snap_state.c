// SPDX-License-Identifier: Apache-2.0
/*
 * state.json without KVM: every section round-trips through JSON text exactly (u64 extremes
 * included), and restore-side parsing rejects each corrupted or out-of-range field with a
 * line naming it; the checksum file catches truncation and corruption before parsing.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "snapshot/snapshot.h"
#include "snap_test.h"

static char err[256];

/* ------------------------------------------------------------------ fixtures */

static void make_vcpu(struct snap_vcpu *v)
{
	unsigned i;

	memset(v, 0, sizeof(*v));
	v->id = 1;
	v->mp_state.mp_state = KVM_MP_STATE_HALTED;
	v->regs.rax = 0x1122334455667788ULL;
	v->regs.r15 = UINT64_MAX;
	v->regs.rip = 0xffffffff81000000ULL;
	v->regs.rflags = 0x246;
	v->sregs.cs = (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = 0x10,
					    .type = 11, .present = 1, .s = 1, .l = 1, .g = 1 };
	v->sregs.tr = (struct kvm_segment){ .base = 0xfffffe0000003000ULL, .limit = 0x4087,
					    .selector = 0x40, .type = 11, .present = 1 };
	v->sregs.gdt.base = 0xfffffe0000001000ULL;
	v->sregs.gdt.limit = 0x7f;
	v->sregs.cr0 = 0x80050033;
	v->sregs.cr3 = 0x1234000;
	v->sregs.efer = 0xd01;
	v->sregs.apic_base = 0xfee00900;
	v->sregs.interrupt_bitmap[2] = 1ULL << 63;
	v->xsave_size = 4096;
	v->xsave = calloc(1, 4096);
	for (i = 0; i < 4096; i++)
		((uint8_t *)v->xsave)[i] = (uint8_t)(i * 13 + 1);
	v->has_xcrs = true;
	v->xcrs.nr_xcrs = 1;
	v->xcrs.xcrs[0].value = 7;
	v->has_debugregs = true;
	v->debugregs.db[0] = 0x1000;
	v->debugregs.dr6 = 0xffff0ff0;
	v->debugregs.dr7 = 0x400;
	for (i = 0; i < sizeof(v->lapic.regs); i++)
		v->lapic.regs[i] = (char)(i * 7);
	v->events.nmi.masked = 1;
	v->events.interrupt.shadow = 1;
	v->events.sipi_vector = 0x9a;
	v->events.flags = 0xd;
	v->events.exception_payload = 0xfedcba9876543210ULL;
	v->tsc_khz = 2596130;
	v->nr_msrs = 3;
	v->msrs = calloc(3, sizeof(*v->msrs));
	v->msrs[0] = (struct snap_msr){ 0xc0000082, 0xffffffff81a00000ULL };
	v->msrs[1] = (struct snap_msr){ 0x10, UINT64_MAX };
	v->msrs[2] = (struct snap_msr){ 0x4b564d01, 0x7ffff001 };
	v->cpuid = calloc(1, sizeof(*v->cpuid) + 2 * sizeof(v->cpuid->entries[0]));
	v->cpuid->nent = 2;
	v->cpuid->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0xd,
							  .ebx = 0x756e6547 };
	v->cpuid->entries[1] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0, .flags = 1,
							  .ebx = 0x9c2fbb };
}

static void make_vm(struct snap_vm *s)
{
	memset(s, 0, sizeof(*s));
	s->clock.clock = 0x123456789abcdefULL;
	s->clock.flags = KVM_CLOCK_TSC_STABLE;
	s->pic_master = (struct kvm_pic_state){ .imr = 0xfa, .irq_base = 0x20, .elcr = 0x0c,
						.elcr_mask = 0xf8, .init4 = 1 };
	s->pic_slave = (struct kvm_pic_state){ .imr = 0xbf, .irq_base = 0x28, .elcr_mask = 0xde };
	s->ioapic.base_address = 0xfec00000;
	s->ioapic.id = 0;
	s->ioapic.redirtbl[3].bits = 0x10031;
	s->ioapic.redirtbl[23].bits = 0xff0000000000a041ULL;
	s->pit.channels[0] = (struct kvm_pit_channel_state){ .count = 0x10000, .rw_mode = 3,
							     .mode = 2, .gate = 1,
							     .count_load_time = -5 };
	s->pit.flags = KVM_PIT_FLAGS_SPEAKER_DATA_ON;
}

/* Text round trip: JSON printed and parsed again, as on disk. */
static cJSON *reparse(const cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);
	cJSON *back = cJSON_Parse(text);

	free(text);
	return back;
}

/* ------------------------------------------------------------------ round trips */

static void test_vcpu_round_trip(void **state)
{
	struct snap_vcpu v, back;
	cJSON *json, *text;

	(void)state;
	make_vcpu(&v);
	json = snap_vcpu_to_json(&v);
	assert_non_null(json);
	text = reparse(json);
	assert_int_equal(snap_vcpu_from_json(text, "vcpus[1]", &back, err, sizeof(err)), 0);
	assert_int_equal(back.id, 1);
	assert_int_equal(back.mp_state.mp_state, KVM_MP_STATE_HALTED);
	assert_memory_equal(&back.regs, &v.regs, sizeof(v.regs));
	assert_memory_equal(&back.sregs, &v.sregs, sizeof(v.sregs));
	assert_int_equal(back.xsave_size, 4096);
	assert_memory_equal(back.xsave, v.xsave, 4096);
	assert_true(back.has_xcrs && back.has_debugregs);
	assert_memory_equal(&back.xcrs, &v.xcrs, sizeof(v.xcrs));
	assert_memory_equal(&back.debugregs, &v.debugregs, sizeof(v.debugregs));
	assert_memory_equal(&back.lapic, &v.lapic, sizeof(v.lapic));
	assert_memory_equal(&back.events, &v.events, sizeof(v.events));
	assert_int_equal(back.tsc_khz, 2596130);
	assert_int_equal(back.nr_msrs, 3);
	assert_memory_equal(back.msrs, v.msrs, 3 * sizeof(*v.msrs));
	assert_int_equal(back.cpuid->nent, 2);
	assert_memory_equal(back.cpuid->entries, v.cpuid->entries, 2 * sizeof(v.cpuid->entries[0]));
	snap_vcpu_free(&back);
	snap_vcpu_free(&v);
	cJSON_Delete(json);
	cJSON_Delete(text);
}

static void test_vcpu_fpu_variant(void **state)
{
	struct snap_vcpu v, back;
	cJSON *json;

	(void)state;
	make_vcpu(&v);
	free(v.xsave);
	v.xsave = NULL;
	v.xsave_size = 0;
	v.has_xcrs = v.has_debugregs = false;
	v.fpu.fcw = 0x37f;
	v.fpu.mxcsr = 0x1f80;
	v.fpu.xmm[15][15] = 0xaa;
	json = snap_vcpu_to_json(&v);
	assert_null(cJSON_GetObjectItem(json, "xsave"));
	assert_null(cJSON_GetObjectItem(json, "xcrs"));
	assert_int_equal(snap_vcpu_from_json(json, "vcpus[1]", &back, err, sizeof(err)), 0);
	assert_memory_equal(&back.fpu, &v.fpu, sizeof(v.fpu));
	assert_false(back.has_xcrs || back.has_debugregs);
	snap_vcpu_free(&back);
	snap_vcpu_free(&v);
	cJSON_Delete(json);
}

static void test_vm_round_trip(void **state)
{
	struct snap_vm s, back;
	cJSON *json, *text;

	(void)state;
	make_vm(&s);
	json = snap_vm_to_json(&s);
	text = reparse(json);
	assert_int_equal(snap_vm_from_json(text, &back, err, sizeof(err)), 0);
	assert_memory_equal(&back, &s, sizeof(s));
	cJSON_Delete(json);
	cJSON_Delete(text);
}

/* ------------------------------------------------------------------ rejections */

/* Replaces (or with @val NULL deletes) the item at a dotted @path; "[n]" indexes arrays. */
static void set_path(cJSON *root, const char *path, cJSON *val)
{
	char buf[128], *tok, *save = NULL;
	cJSON *parent = root, *item = NULL;
	char *last = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (last)
			parent = cJSON_IsArray(parent) ? cJSON_GetArrayItem(parent, atoi(last + 1))
						       : cJSON_GetObjectItem(parent, last);
		last = tok;
	}
	assert_non_null(parent);
	if (last[0] == '[') {
		item = cJSON_GetArrayItem(parent, atoi(last + 1));
		assert_non_null(item);
		if (val)
			cJSON_ReplaceItemInArray(parent, atoi(last + 1), val);
		else
			cJSON_DeleteItemFromArray(parent, atoi(last + 1));
	} else if (!val) {
		cJSON_DeleteItemFromObject(parent, last);
	} else if (cJSON_GetObjectItem(parent, last)) {
		cJSON_ReplaceItemInObject(parent, last, val);
	} else {
		cJSON_AddItemToObject(parent, last, val);
	}
}

struct bad_case {
	const char *path;
	const char *json;        /* the replacement, as JSON text; NULL deletes */
	const char *error;       /* expected substring of the error line */
};

static const struct bad_case vcpu_cases[] = {
	{ "regs.rip", "\"0x1g\"", "vcpus[1].regs.rip: expected a \"0x...\" hex string" },
	{ "regs.rip", "\"0x10000000000000000\"", "regs.rip: expected a \"0x...\"" },
	{ "regs.rip", "5", "regs.rip: expected a \"0x...\"" },
	{ "regs.rip", "\"1234\"", "regs.rip: expected a \"0x...\"" },
	{ "regs.rip", NULL, "vcpus[1].regs.rip: missing" },
	{ "regs.rxx", "\"0x1\"", "vcpus[1].regs.rxx: unknown key" },
	{ "regs", "[]", "vcpus[1].regs: expected an object" },
	{ "sregs.cs.dpl", "\"0x4\"", "vcpus[1].sregs.cs.dpl: 0x4 is above 0x3" },
	{ "sregs.cs.type", "\"0x10\"", "sregs.cs.type: 0x10 is above 0xf" },
	{ "sregs.cs.selector", "\"0x10000\"", "sregs.cs.selector: 0x10000 is above 0xffff" },
	{ "sregs.cs.bogus", "\"0x0\"", "sregs.cs.bogus: unknown key" },
	{ "sregs.cs", "\"0x0\"", "sregs.cs: expected an object" },
	{ "sregs.gdt.limit", "\"0x10000\"", "sregs.gdt.limit: 0x10000 is above 0xffff" },
	{ "sregs.interrupt_bitmap", "[\"0x0\",\"0x0\",\"0x0\"]",
	  "sregs.interrupt_bitmap: expected an array of 4" },
	{ "sregs.interrupt_bitmap.[2]", "\"x\"", "sregs.interrupt_bitmap[2]: expected" },
	{ "events.exception.nr", "\"0x20\"", "events.exception.nr: 0x20 is above 0x1f" },
	{ "events.flags", "\"0x40\"", "events.flags: 0x40 is above 0x3f" },
	{ "events.nmi.masked", "\"0x2\"", "events.nmi.masked: 0x2 is above 0x1" },
	{ "events.interrupt.shadow", "\"0x4\"", "events.interrupt.shadow: 0x4 is above 0x3" },
	{ "debugregs.dr6", NULL, "vcpus[1].debugregs.dr6: missing" },
	{ "debugregs.db", "[\"0x0\"]", "debugregs.db: expected an array of 4" },
	{ "mp_state", "11", "vcpus[1].mp_state: expected an integer from 0 to 10" },
	{ "mp_state", "-1", "mp_state: expected an integer" },
	{ "mp_state", "1.5", "mp_state: expected an integer" },
	{ "mp_state", "\"3\"", "mp_state: expected a number" },
	{ "id", "300", "vcpus[1].id: expected an integer from 0 to 253" },
	{ "tsc_khz", "4294967296", "tsc_khz: expected an integer from 0 to 4294967295" },
	{ "lapic", "\"AAAA\"", "vcpus[1].lapic: 3 bytes, expected 1024" },
	{ "lapic", "\"!!!!\"", "vcpus[1].lapic: expected a base64 string" },
	{ "lapic", "\"AAA\"", "lapic: expected a base64 string" },
	{ "lapic", "\"AB==\"", "lapic: expected a base64 string" },   /* non-zero spare bits */
	{ "lapic", NULL, "vcpus[1].lapic: missing" },
	{ "xsave", "\"AAAA\"", "vcpus[1].xsave: 3 bytes, expected a multiple of 4 from 576" },
	{ "xsave", NULL, "expected exactly one of \"xsave\" and \"fpu\"" },
	{ "fpu", "\"AAAA\"", "expected exactly one of \"xsave\" and \"fpu\"" },
	{ "msrs.0x1_", "\"0x0\"", "vcpus[1].msrs: key \"0x1_\" is not a 32-bit" },
	{ "msrs.0x100000000", "\"0x0\"", "key \"0x100000000\" is not a 32-bit" },
	{ "msrs.0x10", "\"zz\"", "vcpus[1].msrs: 0x10: expected a \"0x...\"" },
	{ "msrs", "[]", "vcpus[1].msrs: expected an object" },
	{ "xcrs", "{\"0x0\":\"0x1\",\"0x1\":\"0x1\",\"0x2\":\"0x1\",\"0x3\":\"0x1\",\"0x4\":\"0x1\","
		  "\"0x5\":\"0x1\",\"0x6\":\"0x1\",\"0x7\":\"0x1\",\"0x8\":\"0x1\",\"0x9\":\"0x1\","
		  "\"0xa\":\"0x1\",\"0xb\":\"0x1\",\"0xc\":\"0x1\",\"0xd\":\"0x1\",\"0xe\":\"0x1\","
		  "\"0xf\":\"0x1\",\"0x10\":\"0x1\"}", "vcpus[1].xcrs: more than 16 entries" },
	{ "cpuid", "[]", "vcpus[1].cpuid: 0 entries, expected 1 to 256" },
	{ "cpuid.[0].flags", "\"0x8\"", "vcpus[1].cpuid[0].flags: 0x8 is above 0x7" },
	{ "cpuid.[1].extra", "\"0x8\"", "vcpus[1].cpuid[1].extra: unknown key" },
	{ "cpuid.[1].eax", NULL, "vcpus[1].cpuid[1].eax: missing" },
	{ "bogus", "1", "vcpus[1].bogus: unknown key" },
};

static void test_vcpu_rejects(void **state)
{
	struct snap_vcpu v, back;
	unsigned i;

	(void)state;
	make_vcpu(&v);
	for (i = 0; i < sizeof(vcpu_cases) / sizeof(vcpu_cases[0]); i++) {
		cJSON *json = snap_vcpu_to_json(&v);

		set_path(json, vcpu_cases[i].path,
			 vcpu_cases[i].json ? cJSON_Parse(vcpu_cases[i].json) : NULL);
		err[0] = '\0';
		if (snap_vcpu_from_json(json, "vcpus[1]", &back, err, sizeof(err)) != -EINVAL)
			fail_msg("case %u (%s) accepted", i, vcpu_cases[i].path);
		if (!strstr(err, vcpu_cases[i].error))
			fail_msg("case %u (%s): got \"%s\"", i, vcpu_cases[i].path, err);
		assert_non_null(strstr(err, "state.json: "));
		assert_null(strchr(err, '\n'));
		assert_null(back.xsave);      /* nothing leaks on failure */
		cJSON_Delete(json);
	}
	snap_vcpu_free(&v);
}

static void test_vcpu_duplicate_keys(void **state)
{
	struct snap_vcpu v, back;
	cJSON *json;

	(void)state;
	make_vcpu(&v);
	json = snap_vcpu_to_json(&v);
	cJSON_AddItemToObject(cJSON_GetObjectItem(json, "msrs"), "0x10", cJSON_CreateString("0x1"));
	assert_int_equal(snap_vcpu_from_json(json, "vcpus[1]", &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "vcpus[1].msrs: duplicate index 0x10"));
	cJSON_Delete(json);
	json = snap_vcpu_to_json(&v);
	cJSON_AddItemToObject(cJSON_GetObjectItem(json, "regs"), "rip", cJSON_CreateString("0x1"));
	assert_int_equal(snap_vcpu_from_json(json, "vcpus[1]", &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "vcpus[1].regs.rip: duplicate key"));
	cJSON_Delete(json);
	snap_vcpu_free(&v);
}

static const struct bad_case vm_cases[] = {
	{ "ioapic.base_address", "\"0xfec01000\"",
	  "vm.ioapic.base_address: 0xfec01000, the IOAPIC is at 0xfec00000" },
	{ "ioapic.redirtbl.[5]", "\"nothex\"", "vm.ioapic.redirtbl[5]: expected" },
	{ "ioapic.irr", "\"0x1000000\"", "vm.ioapic.irr: 0x1000000 is above 0xffffff" },
	{ "pit.channels", "[{},{}]", "vm.pit.channels: expected 3 channels" },
	{ "pit.channels.[1].mode", "\"0x6\"", "vm.pit.channels[1].mode: 0x6 is not a PIT mode" },
	{ "pit.channels.[1].mode", "\"0x100\"", "vm.pit.channels[1].mode: 0x100 is above 0xff" },
	{ "pit.channels.[0].count", "\"0x10001\"", "vm.pit.channels[0].count: 0x10001 is above" },
	{ "pit.flags", "\"0x4\"", "vm.pit.flags: 0x4 is above 0x3" },
	{ "pit.extra", "1", "vm.pit.extra: unknown key" },
	{ "pic_master.init_state", "\"0x4\"", "vm.pic_master.init_state: 0x4 is above 0x3" },
	{ "pic_slave.poll", "\"0x2\"", "vm.pic_slave.poll: 0x2 is above 0x1" },
	{ "pic_slave", NULL, "vm.pic_slave: missing" },
	{ "clock.flags", "\"0x10\"", "vm.clock.flags: 0x10 is above 0xe" },
	{ "clock.clock", "\"-1\"", "vm.clock.clock: expected" },
	{ "hpet", "{}", "vm.hpet: unknown key" },
};

static void test_vm_rejects(void **state)
{
	struct snap_vm s, back;
	unsigned i;

	(void)state;
	make_vm(&s);
	for (i = 0; i < sizeof(vm_cases) / sizeof(vm_cases[0]); i++) {
		cJSON *json = snap_vm_to_json(&s);

		set_path(json, vm_cases[i].path, vm_cases[i].json ? cJSON_Parse(vm_cases[i].json) : NULL);
		err[0] = '\0';
		assert_int_equal(snap_vm_from_json(json, &back, err, sizeof(err)), -EINVAL);
		if (!strstr(err, vm_cases[i].error))
			fail_msg("case %u (%s): got \"%s\"", i, vm_cases[i].path, err);
		cJSON_Delete(json);
	}
}

/* ------------------------------------------------------------------ state.json files */

static void test_crc32c(void **state)
{
	(void)state;
	/* The CRC-32C check value (RFC 3720 B.4 and every CRC catalogue). */
	assert_int_equal(snap_crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(snap_crc32c(snap_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
}

static cJSON *make_state(void)
{
	struct snap_vcpu v;
	struct snap_vm s;
	cJSON *st = snap_state_new();
	unsigned i;

	make_vm(&s);
	assert_int_equal(snap_state_set_vm(st, snap_vm_to_json(&s)), 0);
	make_vcpu(&v);
	for (i = 0; i < 2; i++) {
		v.id = i;
		assert_int_equal(snap_state_add_vcpu(st, snap_vcpu_to_json(&v)), 0);
	}
	snap_vcpu_free(&v);
	assert_int_equal(snap_state_add_device(st, "_disk0", cJSON_CreateObject()), 0);
	assert_int_equal(snap_state_add_device(st, "_disk0", cJSON_CreateObject()), -EINVAL);
	assert_int_equal(snap_state_add_allocator(st, "mmio32", cJSON_CreateObject()), 0);
	return st;
}

static char *write_state(const cJSON *st)
{
	char *dir = snap_test_mkdtemp();
	struct snap_writer *w;

	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), 0);
	assert_int_equal(snap_state_write(w, st, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), 0);
	return dir;
}

static int read_state(const char *dir, cJSON **out)
{
	int fd = snap_dir_open(dir, err, sizeof(err)), ret;

	assert_true(fd >= 0);
	ret = snap_state_read(fd, out, err, sizeof(err));
	close(fd);
	return ret;
}

static void test_state_file_round_trip(void **state)
{
	cJSON *st = make_state(), *back = NULL;
	char *dir = write_state(st), *a, *b;

	(void)state;
	assert_int_equal(read_state(dir, &back), 0);
	a = cJSON_PrintUnformatted(st);
	b = cJSON_PrintUnformatted(back);
	assert_string_equal(a, b);
	assert_int_equal(snap_state_nr_vcpus(back), 2);
	assert_non_null(snap_state_vcpu(back, 1));
	assert_null(snap_state_vcpu(back, 2));
	assert_non_null(snap_state_device(back, "_disk0"));
	assert_non_null(snap_state_allocator(back, "mmio32"));
	assert_non_null(snap_state_vm(back));
	free(a);
	free(b);
	cJSON_Delete(back);
	cJSON_Delete(st);
	snap_test_rmdir(dir);
}

static void test_state_file_damage(void **state)
{
	cJSON *st = make_state(), *back;
	char *dir = write_state(st), *text;
	size_t len;

	(void)state;
	text = snap_test_read_file(dir, SNAP_STATE_FILE, &len);
	/* One flipped byte, same length. */
	text[len / 2] ^= 0x01;
	assert_int_equal(snap_test_write_file(dir, SNAP_STATE_FILE, text, len), 0);
	assert_int_equal(read_state(dir, &back), -EINVAL);
	assert_non_null(strstr(err, "state.json: checksum mismatch"));
	text[len / 2] ^= 0x01;
	/* Truncated. */
	assert_int_equal(snap_test_write_file(dir, SNAP_STATE_FILE, text, len - 100), 0);
	assert_int_equal(read_state(dir, &back), -EINVAL);
	assert_non_null(strstr(err, "(truncated?)"));
	assert_int_equal(snap_test_write_file(dir, SNAP_STATE_FILE, text, 0), 0);
	assert_int_equal(read_state(dir, &back), -EINVAL);
	/* Checksum file damaged or gone. */
	assert_int_equal(snap_test_write_file(dir, SNAP_STATE_FILE, text, len), 0);
	assert_int_equal(snap_test_write_file(dir, SNAP_CHECKSUM_FILE, "crc32c 0x1 size 5\n", 18), 0);
	assert_int_equal(read_state(dir, &back), -EINVAL);
	assert_non_null(strstr(err, "state.json.crc32c: expected one line"));
	assert_int_equal(snap_test_write_file(dir, SNAP_CHECKSUM_FILE,
					      "crc32c 0x00000000 size 99999999999\n", 35), 0);
	assert_int_equal(read_state(dir, &back), -EINVAL);
	assert_non_null(strstr(err, "above the"));
	assert_int_equal(snap_test_write_file(dir, SNAP_CHECKSUM_FILE, "", 0), 0);
	assert_int_equal(read_state(dir, &back), -EINVAL);
	free(text);
	cJSON_Delete(st);
	snap_test_rmdir(dir);
}

/* config.json read through snap_config_read; 0 or -errno, err set. */
static int read_config(const char *dir, char **text)
{
	int fd = snap_dir_open(dir, err, sizeof(err)), ret;
	size_t len;

	assert_true(fd >= 0);
	*text = NULL;
	ret = snap_config_read(fd, text, &len, err, sizeof(err));
	assert_true(ret || len == strlen(*text));
	close(fd);
	return ret;
}

/*
 * config.json is checked like state.json (issue 17): written with config.json.crc32c, read
 * back as written; an edit (a serial file pointed elsewhere, same length or not), a missing
 * or damaged checksum file, or a swapped checksum file is refused before any parsing.
 */
static void test_config_checksum(void **state)
{
	static const char cfg[] = "{\"serial\":{\"mode\":\"File\",\"file\":\"/tmp/out\"}}";
	static const char edit[] = "{\"serial\":{\"mode\":\"File\",\"file\":\"/etc/pwd\"}}";
	char *dir = snap_test_mkdtemp(), *text, *sum;
	struct snap_writer *w;
	cJSON *st = make_state();

	(void)state;
	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), 0);
	assert_int_equal(snap_config_write(w, cfg, err, sizeof(err)), 0);
	assert_int_equal(snap_state_write(w, st, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), 0);
	assert_int_equal(read_config(dir, &text), 0);
	assert_string_equal(text, cfg);
	free(text);
	/* Edited, same length: the CRC32C catches it. */
	assert_int_equal(sizeof(cfg), sizeof(edit));
	assert_int_equal(snap_test_write_file(dir, SNAP_CONFIG_FILE, edit, strlen(edit)), 0);
	assert_int_equal(read_config(dir, &text), -EINVAL);
	assert_null(text);
	assert_non_null(strstr(err, "config.json: checksum mismatch"));
	/* Edited, longer. */
	assert_int_equal(snap_test_write_file(dir, SNAP_CONFIG_FILE, "{} ", 3), 0);
	assert_int_equal(read_config(dir, &text), -EINVAL);
	assert_non_null(strstr(err, "config.json: 3 bytes, config.json.crc32c says"));
	/* state.json's checksum file in its place. */
	sum = snap_test_read_file(dir, SNAP_CHECKSUM_FILE, NULL);
	assert_int_equal(snap_test_write_file(dir, SNAP_CONFIG_FILE, cfg, strlen(cfg)), 0);
	assert_int_equal(snap_test_write_file(dir, SNAP_CONFIG_CHECKSUM_FILE, sum, strlen(sum)), 0);
	assert_int_equal(read_config(dir, &text), -EINVAL);
	free(sum);
	/* Damaged or gone. */
	assert_int_equal(snap_test_write_file(dir, SNAP_CONFIG_CHECKSUM_FILE, "crc32c 1\n", 9), 0);
	assert_int_equal(read_config(dir, &text), -EINVAL);
	assert_non_null(strstr(err, "config.json.crc32c: expected one line"));
	assert_int_equal(snap_test_write_file(dir, SNAP_CONFIG_CHECKSUM_FILE,
					      "crc32c 0x00000000 size 2000000\n", 31), 0);
	assert_int_equal(read_config(dir, &text), -EINVAL);
	assert_non_null(strstr(err, "config.json.crc32c: size 2000000 is above the"));
	unlink(strcat(strcat(strcpy(err, dir), "/"), SNAP_CONFIG_CHECKSUM_FILE));
	assert_int_equal(read_config(dir, &text), -ENOENT);
	assert_non_null(strstr(err, "config.json.crc32c"));
	cJSON_Delete(st);
	snap_test_rmdir(dir);
}

/* state.json with a matching checksum file, so the parse and shape checks are reached. */
static int read_crafted(const char *text)
{
	char *dir = snap_test_mkdtemp(), sum[64];
	cJSON *back = NULL;
	int ret;

	snprintf(sum, sizeof(sum), "crc32c 0x%08x size %zu\n", snap_crc32c(0, text, strlen(text)),
		 strlen(text));
	assert_int_equal(snap_test_write_file(dir, SNAP_STATE_FILE, text, strlen(text)), 0);
	assert_int_equal(snap_test_write_file(dir, SNAP_CHECKSUM_FILE, sum, strlen(sum)), 0);
	ret = read_state(dir, &back);
	cJSON_Delete(back);
	snap_test_rmdir(dir);
	return ret;
}

#define HDR "\"format\":\"vireo-snapshot\",\"version\":1,\"arch\":\"x86_64\""
#define BODY "\"vm\":{},\"memory\":{},\"allocators\":{},\"devices\":{}"

static const struct { const char *text, *error; } shape_cases[] = {
	{ "{" HDR ",", "state.json: not valid JSON" },
	{ "[1]", "state.json: expected a JSON object" },
	{ "{\"format\":\"other\",\"version\":1}", "format: expected \"vireo-snapshot\"" },
	{ "{\"format\":\"vireo-snapshot\",\"version\":2}", "version: 2 is not supported" },
	{ "{\"format\":\"vireo-snapshot\",\"version\":\"1\"}", "version: expected a number" },
	{ "{\"format\":\"vireo-snapshot\",\"version\":1," BODY ",\"vcpus\":[{\"id\":0}]}",
	  "state.json: arch: missing (this vireo restores x86_64 VMs)" },
	{ "{\"format\":\"vireo-snapshot\",\"version\":1,\"arch\":7}", "arch: expected a string" },
	/* an arm64 snapshot on x86 (and, by the same check, back) */
	{ "{\"format\":\"vireo-snapshot\",\"version\":1,\"arch\":\"aarch64\"," BODY
	  ",\"vcpus\":[{\"id\":0}]}",
	  "state.json: arch: a snapshot of an \"aarch64\" VM; this vireo restores x86_64 VMs only" },
	{ "{" HDR "," BODY ",\"vcpus\":[]}", "vcpus: 0 vCPUs, expected 1 to 254" },
	{ "{" HDR "," BODY ",\"vcpus\":[{\"id\":1}]}", "vcpus[0].id: 1, expected 0" },
	{ "{" HDR "," BODY ",\"vcpus\":[7]}", "vcpus[0]: expected an object" },
	{ "{" HDR ",\"vm\":[],\"memory\":{},\"allocators\":{},\"devices\":{},\"vcpus\":[{\"id\":0}]}",
	  "state.json: vm: expected an object" },
	{ "{" HDR ",\"vm\":{},\"allocators\":{},\"devices\":{},\"vcpus\":[{\"id\":0}]}",
	  "state.json: memory: missing" },
	{ "{" HDR "," BODY ",\"vcpus\":[{\"id\":0}],\"extra\":1}", "state.json: extra: unknown key" },
	{ "{" HDR ",\"vm\":{},\"memory\":{},\"allocators\":{},\"devices\":{\"a\":{},\"a\":{}},"
	  "\"vcpus\":[{\"id\":0}]}", "devices: duplicate id \"a\"" },
	{ "{" HDR ",\"vm\":{},\"memory\":{},\"allocators\":{\"io\":3},\"devices\":{},"
	  "\"vcpus\":[{\"id\":0}]}", "allocators: \"io\" is not an object" },
};

static void test_state_shapes(void **state)
{
	unsigned i;

	(void)state;
	assert_int_equal(read_crafted("{" HDR "," BODY ",\"vcpus\":[{\"id\":0}]}"), 0);
	for (i = 0; i < sizeof(shape_cases) / sizeof(shape_cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(read_crafted(shape_cases[i].text), -EINVAL);
		if (!strstr(err, shape_cases[i].error))
			fail_msg("case %u: got \"%s\"", i, err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu_round_trip),
		cmocka_unit_test(test_vcpu_fpu_variant),
		cmocka_unit_test(test_vm_round_trip),
		cmocka_unit_test(test_vcpu_rejects),
		cmocka_unit_test(test_vcpu_duplicate_keys),
		cmocka_unit_test(test_vm_rejects),
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_state_file_round_trip),
		cmocka_unit_test(test_state_file_damage),
		cmocka_unit_test(test_config_checksum),
		cmocka_unit_test(test_state_shapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
