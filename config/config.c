// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "config/config.h"

const char config_usage[] =
	"Usage: vireo [OPTIONS]\n"
	"\n"
	"Options (Cloud Hypervisor syntax):\n"
	"  --kernel PATH                 kernel to boot: bzImage, or ELF vmlinux with a PVH note\n"
	"  --initramfs PATH              initramfs image\n"
	"  --cmdline STRING              kernel command line\n"
	"  --cpus boot=N[,max=M][,topology=T:C:D:P]\n"
	"                                vCPUs at boot (1-254, default 1), possible vCPUs for\n"
	"                                vm.resize (default boot), threads:cores:dies:packages\n"
	"  --memory size=SIZE[,shared=on]  guest RAM, e.g. 512M, 5G (default 512M); shared=on\n"
	"                                maps it from a memfd (needed by --fs)\n"
	"  --serial tty|null|off|file=PATH   COM1, ttyS0 (default null)\n"
	"  --console tty|null|off|file=PATH  virtio-console, hvc0 (default tty)\n"
	"  --rng src=PATH                virtio-rng entropy source (default /dev/urandom)\n"
	"  --disk path=P[,readonly=on,direct=on,num_queues=N,queue_size=M,id=I,serial=S,\n"
	"         bw_size=,bw_one_time_burst=,bw_refill_time=,ops_size=,ops_one_time_burst=,\n"
	"         ops_refill_time=] ...   a virtio-blk disk on a raw image (repeatable)\n"
	"  --net tap=NAME[,ip=,mask=,mac=,host_mac=,mtu=,num_queues=,queue_size=,id=,\n"
	"         fd=[3,4],pci_device_id=,offload_tso=,offload_ufo=,offload_csum=,bw_size=,\n"
	"         bw_refill_time=,ops_size=,ops_refill_time=,...] ...\n"
	"                                a virtio-net device on a tap (repeatable)\n"
	"  --vsock cid=N,socket=PATH[,id=I]   virtio-vsock, host side on a Unix socket\n"
	"  --fs tag=T,socket=PATH[,num_queues=N,queue_size=M,id=I]  virtio-fs served by a\n"
	"                                vhost-user backend (virtiofsd) on PATH\n"
	"  --api-socket path=P|fd=N|P    serve the REST API there (without --kernel: wait for it)\n"
	"  --pci-segment pci_segment=0[,mmio32_aperture_weight=N,mmio64_aperture_weight=N]\n"
	"                                accepted for segment 0 (every segment gets an equal\n"
	"                                share of the PCI windows)\n"
	"  --platform num_pci_segments=N PCI segments 0..N-1 (1-16), each its own host bridge\n"
	"  --restore source_url=file:///DIR[,resume=on,prefault=on,memory_restore_mode=copy,\n"
	"            net_fds=[ID@[FD,..],..]]\n"
	"                                restore a snapshot instead of booting a kernel\n"
	"  --event-monitor path=P|fd=N   write lifecycle events there as JSON\n"
	"  --seccomp true|false|log|errno  per-thread syscall filters (default true)\n"
	"  -v                            more log output (repeat for debug)\n"
	"  --log-file PATH               write vireo's log there instead of stderr\n"
	"  -V, --version                 print the version\n"
	"  -h, --help                    print this help\n";

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int config_init_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->boot_vcpus = 1;
	cfg->memory_size = CONFIG_DEFAULT_MEMORY;
	cfg->serial.mode = CONSOLE_NULL;
	cfg->console.mode = CONSOLE_TTY;
	cfg->rng.src = strdup(CONFIG_DEFAULT_RNG_SRC);
	return cfg->rng.src ? 0 : -ENOMEM;
}

int config_check_consoles(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->serial.mode == CONSOLE_TTY && cfg->console.mode == CONSOLE_TTY)
		return fail(err, errlen, "serial and console cannot both use the terminal "
			    "(add --console off or --serial null)");
	return 0;
}

void config_free(struct vm_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initramfs);
	free(cfg->cmdline);
	free(cfg->serial.file);
	free(cfg->console.file);
	free(cfg->rng.src);
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		config_disk_free(&cfg->disks[i]);
	free(cfg->disks);
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		config_net_free(&cfg->nets[i]);
	free(cfg->nets);
	config_vsock_free(&cfg->vsock);
	for (unsigned i = 0; i < cfg->nr_fs; i++)
		config_fs_free(&cfg->fs[i]);
	free(cfg->fs);
	memset(cfg, 0, sizeof(*cfg));
}

void vmm_options_free(struct vmm_options *opts)
{
	free(opts->log_file);
	free(opts->api_socket);
	free(opts->event_monitor);
	free(opts->seccomp);
	free(opts->restore.source_url);
	config_net_fds_free(opts->restore.net_fds, opts->restore.nr_net_fds);
	memset(opts, 0, sizeof(*opts));
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	switch (*end) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)v << shift;
	return 0;
}

/* Replaces *dst with a copy of @src. */
int config_set_str(char **dst, const char *src)
{
	char *copy = strdup(src);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

int config_parse_kv(const char *opt, const char *s, config_kv_fn fn, void *ctx, char *err,
		    size_t errlen)
{
	char *copy = strdup(s), *item, *next;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	if (strspn(s, ",") == strlen(s))   /* "" or only commas */
		ret = fail(err, errlen, "%s: empty value", opt);
	for (item = copy; !ret && *item; item = next) {
		char *end = config_item_end(item), *eq;

		next = *end ? end + 1 : end;
		*end = '\0';
		if (!*item)
			continue;
		eq = strchr(item, '=');
		if (!eq) {
			ret = fail(err, errlen, "%s: expected key=value, got '%s'", opt, item);
			break;
		}
		*eq = '\0';
		ret = fn(ctx, item, eq + 1, err, errlen);
	}
	free(copy);
	return ret;
}

static int rng_kv(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
	struct vm_config *cfg = ctx;

	if (strcmp(key, "src"))
		return fail(err, errlen, "--rng: unknown key '%s' (supported: src)", key);
	if (!*val)
		return fail(err, errlen, "--rng: src is empty");
	return config_set_str(&cfg->rng.src, val);
}

static int memory_kv(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
	struct vm_config *cfg = ctx;
	uint64_t size;

	if (!strcmp(key, "shared"))
		return config_option_bool("--memory", key, val, &cfg->memory_shared, err, errlen);
	if (strcmp(key, "size"))
		return fail(err, errlen, "--memory: unknown key '%s' (supported: size, shared)", key);
	if (config_parse_size(val, &size))
		return fail(err, errlen, "--memory: size='%s' is not a size like 512M or 2G", val);
	cfg->memory_size = size;
	return 0;
}

int config_parse_console(const char *s, struct console_config *out, char *err, size_t errlen)
{
	free(out->file);
	out->file = NULL;
	if (!strcmp(s, "off"))
		out->mode = CONSOLE_OFF;
	else if (!strcmp(s, "null"))
		out->mode = CONSOLE_NULL;
	else if (!strcmp(s, "tty"))
		out->mode = CONSOLE_TTY;
	else if (!strncmp(s, "file=", 5) && s[5]) {
		out->mode = CONSOLE_FILE;
		out->file = strdup(s + 5);
		if (!out->file)
			return -ENOMEM;
	} else
		return fail(err, errlen, "'%s' is not one of tty, null, off, file=PATH", s);
	return 0;
}

static int parse_console_opt(const char *opt, const char *val, struct console_config *out,
			     char *err, size_t errlen)
{
	char why[256];

	if (config_parse_console(val, out, why, sizeof(why)))
		return fail(err, errlen, "%s: %s", opt, why);
	return 0;
}

enum {
	OPT_KERNEL = 256, OPT_INITRAMFS, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_SERIAL,
	OPT_CONSOLE, OPT_RNG, OPT_DISK, OPT_NET, OPT_RESTORE, OPT_PCI_SEGMENT, OPT_LOG_FILE, OPT_API_SOCKET, OPT_EVENT_MONITOR,
	OPT_SECCOMP, OPT_VSOCK, OPT_FS, OPT_PLATFORM,
};

static const struct option cli_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initramfs", required_argument, NULL, OPT_INITRAMFS },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "rng", required_argument, NULL, OPT_RNG },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "pci-segment", required_argument, NULL, OPT_PCI_SEGMENT },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
	{ "event-monitor", required_argument, NULL, OPT_EVENT_MONITOR },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "fs", required_argument, NULL, OPT_FS },
	{ "platform", required_argument, NULL, OPT_PLATFORM },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

bool config_parse_bool(const char *val, bool *out)
{
	if (!strcmp(val, "on") || !strcmp(val, "true"))
		*out = true;
	else if (!strcmp(val, "off") || !strcmp(val, "false"))
		*out = false;
	else
		return false;
	return true;
}

int config_parse_num(const char *opt, const char *key, const char *val, uint64_t max,
		     uint64_t *out, char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || end == val || *end || *val == '-' || v > max)
		return set_err(err, errlen, -EINVAL, "%s: %s='%s' is not a number in 0-%" PRIu64,
			       opt, key, val, max);
	*out = v;
	return 0;
}

bool config_rate_limit_incomplete(const struct rate_limiter_config *rl)
{
	return rl->set && ((rl->bandwidth.set && !rl->bandwidth.refill_time) ||
			   (rl->ops.set && !rl->ops.refill_time));
}

int config_option_bool(const char *opt, const char *key, const char *val, bool *out, char *err,
		       size_t errlen)
{
	if (!config_parse_bool(val, out))
		return set_err(err, errlen, -EINVAL, "%s: %s='%s' is not on or off", opt, key, val);
	return 0;
}

/* CH's RestoreConfig keys; memory_restore_mode copy|ondemand (vireo's ondemand maps lazily). */
static int restore_kv(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
	struct vmm_options *opts = ctx;

	if (!strcmp(key, "source_url"))
		return config_set_str(&opts->restore.source_url, val);
	if (!strcmp(key, "resume") && config_parse_bool(val, &opts->restore.resume))
		return 0;
	if (!strcmp(key, "prefault") && config_parse_bool(val, &opts->restore.prefault))
		return 0;
	if (!strcmp(key, "memory_restore_mode") && (!strcasecmp(val, "copy") ||
						    !strcasecmp(val, "ondemand"))) {
		opts->restore.copy = !strcasecmp(val, "copy");
		return 0;
	}
	if (!strcmp(key, "net_fds")) {
		config_net_fds_free(opts->restore.net_fds, opts->restore.nr_net_fds);
		return config_parse_net_fds(val, &opts->restore.net_fds, &opts->restore.nr_net_fds,
					    err, errlen);
	}
	if (!strcmp(key, "resume") || !strcmp(key, "prefault") ||
	    !strcmp(key, "memory_restore_mode"))
		return fail(err, errlen, "--restore: %s='%s' is not valid", key, val);
	return fail(err, errlen, "--restore: unknown key '%s' (supported: source_url, resume, "
		    "prefault, memory_restore_mode, net_fds)", key);
}

/*
 * --pci-segment pci_segment=0[,mmio32_aperture_weight=N,mmio64_aperture_weight=N]: vireo has
 * one segment, which gets both whole windows; anything else is refused, never ignored.
 */
static int pci_segment_kv(void *ctx, const char *key, const char *val, char *err,
			  size_t errlen)
{
	char *end;
	unsigned long n;

	(void)ctx;
	if (strcmp(key, "pci_segment") && strcmp(key, "mmio32_aperture_weight") &&
	    strcmp(key, "mmio64_aperture_weight"))
		return fail(err, errlen, "--pci-segment: unknown key '%s' (supported: pci_segment, "
			    "mmio32_aperture_weight, mmio64_aperture_weight)", key);
	errno = 0;
	n = strtoul(val, &end, 10);
	if (errno || end == val || *end || *val == '-')
		return fail(err, errlen, "--pci-segment: %s='%s' is not a number", key, val);
	if (!strcmp(key, "pci_segment"))
		return n ? fail(err, errlen, "--pci-segment: pci_segment=%lu: vireo has only "
				"segment 0", n) : 0;
	return n ? 0 : fail(err, errlen, "--pci-segment: %s must be at least 1", key);
}

/* --platform num_pci_segments=N (1-16): Cloud Hypervisor's PlatformConfig, that field only. */
static int platform_kv(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
	struct vm_config *cfg = ctx;
	uint64_t n;

	if (strcmp(key, "num_pci_segments"))
		return fail(err, errlen, "--platform: unknown key '%s' (supported: "
			    "num_pci_segments)", key);
	if (config_parse_num("--platform", key, val, CONFIG_MAX_PCI_SEGMENTS, &n, err, errlen))
		return -EINVAL;
	if (!n)
		return fail(err, errlen, "--platform: num_pci_segments must be between 1 and %u",
			    CONFIG_MAX_PCI_SEGMENTS);
	cfg->num_pci_segments = (unsigned)n;
	return 0;
}

static int add_disk_opt(struct vm_config *cfg, const char *arg, char *err, size_t errlen)
{
	struct disk_config d;
	int ret = config_parse_disk(arg, &d, err, errlen);

	if (ret)
		return ret;
	ret = config_add_disk(cfg, &d);
	if (ret)
		config_disk_free(&d);
	return ret;
}

static int add_fs_opt(struct vm_config *cfg, const char *arg, char *err, size_t errlen)
{
	struct fs_config f;
	int ret = config_parse_fs(arg, &f, err, errlen);

	if (ret)
		return ret;
	ret = config_add_fs(cfg, &f);
	if (ret)
		config_fs_free(&f);
	return ret;
}

static int add_net_opt(struct vm_config *cfg, const char *arg, char *err, size_t errlen)
{
	struct net_config n;
	int ret = config_parse_net(arg, &n, err, errlen);

	if (ret)
		return ret;
	ret = config_add_net(cfg, &n);
	if (ret)
		config_net_free(&n);
	return ret;
}

static int apply_option(int c, const char *arg, struct vm_config *cfg, struct vmm_options *opts,
			char *err, size_t errlen)
{
	switch (c) {
	case OPT_KERNEL: return config_set_str(&cfg->kernel, arg);
	case OPT_INITRAMFS: return config_set_str(&cfg->initramfs, arg);
	case OPT_CMDLINE: return config_set_str(&cfg->cmdline, arg);
	case OPT_CPUS: return config_parse_cpus(arg, cfg, err, errlen);
	case OPT_MEMORY: return config_parse_kv("--memory", arg, memory_kv, cfg, err, errlen);
	case OPT_SERIAL: return parse_console_opt("--serial", arg, &cfg->serial, err, errlen);
	case OPT_CONSOLE: return parse_console_opt("--console", arg, &cfg->console, err, errlen);
	case OPT_RNG: return config_parse_kv("--rng", arg, rng_kv, cfg, err, errlen);
	case OPT_DISK: return add_disk_opt(cfg, arg, err, errlen);
	case OPT_NET: return add_net_opt(cfg, arg, err, errlen);
	case OPT_PCI_SEGMENT: return config_parse_kv("--pci-segment", arg, pci_segment_kv, NULL, err,
						 errlen);
	case OPT_RESTORE:
		if (config_parse_kv("--restore", arg, restore_kv, opts, err, errlen))
			return -EINVAL;
		if (!opts->restore.source_url)
			return fail(err, errlen, "--restore: source_url= is required");
		return 0;
	case OPT_LOG_FILE: return config_set_str(&opts->log_file, arg);
	case OPT_API_SOCKET: return config_set_str(&opts->api_socket, arg);
	case OPT_EVENT_MONITOR: return config_set_str(&opts->event_monitor, arg);
	case OPT_SECCOMP: return config_set_str(&opts->seccomp, arg);
	case OPT_VSOCK: return config_parse_vsock(arg, &cfg->vsock, err, errlen);
	case OPT_FS: return add_fs_opt(cfg, arg, err, errlen);
	case OPT_PLATFORM: return config_parse_kv("--platform", arg, platform_kv, cfg, err,
						  errlen);
	case 'v': opts->verbosity++; return 0;
	case 'V': opts->version = true; return 0;
	case 'h': opts->help = true; return 0;
	default: return -EINVAL;
	}
}

int config_parse_cli(int argc, char **argv, struct vm_config *cfg, struct vmm_options *opts,
		     char *err, size_t errlen)
{
	int c, ret;

	memset(opts, 0, sizeof(*opts));
	if (config_init_defaults(cfg))
		return fail(err, errlen, "out of memory");
	optind = 0;   /* glibc: full re-initialisation, so the parser can run more than once */
	opterr = 0;
	/* "+": no argument permutation, so values following --disk stay where they are. */
	while ((c = getopt_long(argc, argv, "+:vVh", cli_options, NULL)) != -1) {
		/* glibc moves optind only at the end of a "-xv" cluster: name short ones by optopt. */
		if (c == '?' && optopt)
			return fail(err, errlen, "unknown option '-%c' (see --help)", optopt);
		if (c == '?')
			return fail(err, errlen, "unknown option '%s' (see --help)",
				    argv[optind - 1]);
		if (c == ':')
			return fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		ret = apply_option(c, optarg, cfg, opts, err, errlen);
		/* CH: "--disk path=a path=b" lists several disks after one flag. */
		while (!ret && c == OPT_DISK && optind < argc && argv[optind][0] != '-')
			ret = add_disk_opt(cfg, argv[optind++], err, errlen);
		while (!ret && c == OPT_NET && optind < argc && argv[optind][0] != '-')
			ret = add_net_opt(cfg, argv[optind++], err, errlen);
		while (!ret && c == OPT_FS && optind < argc && argv[optind][0] != '-')
			ret = add_fs_opt(cfg, argv[optind++], err, errlen);
		if (ret == -ENOMEM)
			return fail(err, errlen, "out of memory");
		if (ret)
			return ret;
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!cfg->cmdline && config_set_str(&cfg->cmdline, ""))
		return fail(err, errlen, "out of memory");
	if (opts->restore.source_url && cfg->kernel)
		return fail(err, errlen, "--restore and --kernel exclude each other (the snapshot "
			    "holds the VM's config)");
	return 0;
}

int config_validate(const struct vm_config *cfg, char *err, size_t errlen)
{
	char why[256];

	if (!cfg->kernel || !*cfg->kernel)
		return fail(err, errlen, "no kernel given (use --kernel PATH)");
	if (config_validate_cpus(cfg, why, sizeof(why)))
		return fail(err, errlen, "--cpus: %s", why);
	if (cfg->memory_size < CONFIG_MIN_MEMORY)
		return fail(err, errlen, "--memory: size=%" PRIu64 " is below the minimum of 2M",
			    cfg->memory_size);
	if (cfg->memory_size > CONFIG_MAX_MEMORY)
		return fail(err, errlen, "--memory: size=%" PRIu64 " is above the maximum of 1T",
			    cfg->memory_size);
	if (cfg->memory_size & 0xfff)
		return fail(err, errlen, "--memory: size=%" PRIu64 " is not a multiple of 4K",
			    cfg->memory_size);
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if (config_validate_disk(cfg, i, err, errlen))
			return -EINVAL;
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if (config_validate_net(cfg, i, err, errlen))
			return -EINVAL;
	if (config_validate_vsock(cfg, err, errlen))
		return -EINVAL;
	for (unsigned i = 0; i < cfg->nr_fs; i++)
		if (config_validate_fs(cfg, i, err, errlen))
			return -EINVAL;
	return config_check_consoles(cfg, err, errlen);
}
