/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VM configuration: what the user asked for, in Cloud Hypervisor's terms (VmConfig), parsed
 * from the command line here and from JSON by the API.
 */
#ifndef VIREO_CONFIG_CONFIG_H
#define VIREO_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/topology.h"

#define CONFIG_MAX_VCPUS      254      /* xAPIC IDs 0..253 in MADT type-0 entries */
#define CONFIG_MIN_MEMORY     (2ULL << 20)
#define CONFIG_MAX_MEMORY     (1ULL << 40)
#define CONFIG_DEFAULT_MEMORY (512ULL << 20)

enum console_mode { CONSOLE_OFF, CONSOLE_NULL, CONSOLE_TTY, CONSOLE_FILE };

struct console_config {
	enum console_mode mode;
	char *file;                /* CONSOLE_FILE only */
};

/* Cloud Hypervisor's TokenBucket: @size tokens refilled every @refill_time ms. */
struct token_bucket {
	bool set;
	uint64_t size;
	uint64_t one_time_burst;   /* 0 when absent */
	uint64_t refill_time;
};

struct rate_limiter_config {
	bool set;
	struct token_bucket bandwidth, ops;
};

/* Cloud Hypervisor's DiskConfig: the fields vireo parses, checks and reports back. */
struct disk_config {
	char *path;
	bool readonly;
	bool direct;               /* O_DIRECT */
	bool iommu;
	unsigned num_queues;       /* default 1 */
	unsigned queue_size;       /* default 128 */
	char *id;                  /* NULL until given, or generated (_diskN) at boot */
	char *serial;
	uint16_t pci_segment;
	int pci_device_id;         /* PCI slot 1-31; -1: the first free one */
	struct rate_limiter_config rate_limiter;
	bool vhost_user;           /* served by a vhost-user-blk backend at vhost_socket */
	char *vhost_socket;
};

/*
 * Cloud Hypervisor's NetConfig: the fields vireo parses, checks and reports back. A tap is
 * opened by name (created when missing; NULL: the kernel names it) or taken as @fds, one
 * per queue pair, opened by the caller.
 */
#define CONFIG_NET_MAX_PAIRS 4         /* one worker thread polls every tap fd */
#define CONFIG_NET_MAX_PAIRS_RL 3      /* ... and a rate limiter's timer */
struct net_config {
	char *tap;
	char *ip, *mask;           /* dotted IPv4 for the host end; NULL: left alone */
	uint8_t mac[6], host_mac[6];
	bool mac_set, host_mac_set;
	unsigned mtu;              /* 0: not given (1500 in the guest, the tap's left alone) */
	unsigned num_queues;       /* 2 x queue pairs; default 2 */
	unsigned queue_size;       /* default 256 */
	char *id;
	int *fds;                  /* fd=[..] on the command line, or sent with vm.add-net */
	unsigned nr_fds;
	bool fds_owned;            /* came over the API socket: config_net_free closes them */
	bool iommu;
	bool offload_tso, offload_ufo, offload_csum;   /* default true */
	uint16_t pci_segment;
	int pci_device_id;         /* PCI slot 1-31; -1: the first free one */
	struct rate_limiter_config rate_limiter;   /* each direction gets these buckets */
	bool vhost_user;           /* served by a vhost-user-net backend at vhost_socket */
	bool vhost_server;         /* vhost_mode Server: vireo listens (refused for now) */
	char *vhost_socket;
};

/* Cloud Hypervisor's RngConfig: virtio-rng always exists, fed from @src. */
#define CONFIG_DEFAULT_RNG_SRC "/dev/urandom"
struct rng_config {
	char *src;                 /* never NULL after config_init_defaults */
};

/* Cloud Hypervisor's VsockConfig: at most one virtio-vsock device (set false: none). */
struct vsock_config {
	bool set;
	uint64_t cid;              /* the guest's CID, 3 or more */
	char *socket;              /* the hybrid backend's Unix socket */
	char *id;                  /* NULL until given, or generated (_vsockN) at boot */
	uint16_t pci_segment;
	bool iommu;                /* refused: vireo has no virtual IOMMU */
};

/* Cloud Hypervisor's FsConfig: a virtio-fs device served by a vhost-user backend. */
#define CONFIG_FS_DEFAULT_QUEUE_SIZE 1024
#define CONFIG_FS_MAX_QUEUES 16        /* request queues (plus the hiprio queue) */
struct fs_config {
	char *tag;                 /* the guest's mount tag, 1-36 bytes */
	char *socket;              /* the backend's (virtiofsd's) Unix socket */
	unsigned num_queues;       /* request queues, default 1 */
	unsigned queue_size;       /* default 1024 */
	char *id;                  /* NULL until given, or generated (_fsN) at boot */
	uint16_t pci_segment;
};

struct vm_config {
	char *kernel;
	char *initramfs;           /* NULL: none */
	char *cmdline;             /* never NULL after parsing */
	unsigned boot_vcpus;
	unsigned max_vcpus;              /* possible vCPUs (vm.resize up to it); 0: boot_vcpus */
	struct cpu_topology topology;    /* all 0: not given (config_topology's default) */
	uint64_t memory_size;      /* bytes */
	bool memory_shared;        /* memory.shared: a memfd a vhost-user backend can map */
	struct console_config serial;
	struct console_config console;   /* virtio-console (hvc0) */
	struct rng_config rng;
	struct disk_config *disks;       /* from the API's VmConfig.disks[]; nr_disks entries */
	unsigned nr_disks;
	struct net_config *nets;         /* VmConfig.net[]; nr_nets entries */
	unsigned nr_nets;
	struct vsock_config vsock;       /* --vsock, VmConfig.vsock */
	struct fs_config *fs;            /* --fs, VmConfig.fs[]; nr_fs entries */
	unsigned nr_fs;
	unsigned num_pci_segments;       /* platform.num_pci_segments; 0 = 1 */
};

/* platform.num_pci_segments: as many as the ACPI hotplug registers select (PSEG). */
#define CONFIG_MAX_PCI_SEGMENTS 16
static inline unsigned config_pci_segments(const struct vm_config *cfg)
{
	return cfg->num_pci_segments ? cfg->num_pci_segments : 1;
}

/*
 * Restore's net_fds: new taps for a net whose snapshot config used fds (their numbers are
 * stale), by device id (CH's RestoreConfig.net_fds, --restore net_fds=[net1@[23,24]]).
 */
struct net_fds_subst {
	char *id;
	int *fds;                  /* moved into the config by config_substitute_net_fds */
	unsigned nr_fds;
	bool owned;                /* came over the API socket: closed if never used */
};
/* "[net1@[23,24],net2@[25,26]]" (fds above stderr). */
int config_parse_net_fds(const char *s, struct net_fds_subst **out, unsigned *n, char *err,
			 size_t errlen);
void config_net_fds_free(struct net_fds_subst *s, unsigned n);
/*
 * Gives each net named in @s its fds (moved: s[i].fds NULL after). -EINVAL naming the id
 * when no net has it, or its config had no fds to replace, or the count differs.
 */
int config_substitute_net_fds(struct vm_config *cfg, struct net_fds_subst *s, unsigned n,
			      char *err, size_t errlen);

/* Options of the vireo process itself rather than of the VM. */
struct vmm_options {
	unsigned verbosity;        /* number of -v */
	char *log_file;
	char *api_socket;          /* --api-socket path=P | fd=N | P */
	char *event_monitor;       /* --event-monitor path=P | fd=N */
	char *seccomp;             /* --seccomp true|false|log|errno (vmm/seccomp.c); NULL: absent */
	struct {                   /* --restore source_url=..,resume=on,prefault=on,.. */
		char *source_url;
		bool resume, prefault, copy;
		struct net_fds_subst *net_fds;
		unsigned nr_net_fds;
	} restore;
	bool version;
	bool help;
};

/*
 * Fills @cfg with Cloud Hypervisor's defaults: 1 vCPU, 512 MiB, serial null, virtio-console
 * on the terminal, virtio-rng from /dev/urandom. -ENOMEM.
 */
int config_init_defaults(struct vm_config *cfg);
/*
 * Parses vireo's command line. On error returns -EINVAL with a one-line message in @err
 * that names the option and the problem. @cfg must be freed with config_free either way.
 */
int config_parse_cli(int argc, char **argv, struct vm_config *cfg, struct vmm_options *opts,
		     char *err, size_t errlen);
/* Checks a complete config (a kernel given, sizes in range); same error contract. */
int config_validate(const struct vm_config *cfg, char *err, size_t errlen);
void config_free(struct vm_config *cfg);
void vmm_options_free(struct vmm_options *opts);

/* "512M", "1G", "4096K", "65536": bytes, with overflow checks. 0 or -EINVAL / -ERANGE. */
int config_parse_size(const char *s, uint64_t *bytes);
/*
 * --disk path=P,readonly=on,direct=on,num_queues=N,queue_size=M,id=I,serial=S,bw_size=...
 * (Cloud Hypervisor's keys). Fills @d (free it with config_disk_free on success).
 */
int config_parse_disk(const char *s, struct disk_config *d, char *err, size_t errlen);
void config_disk_free(struct disk_config *d);
/* Appends @d (moved: the config owns its strings now). -ENOMEM. */
int config_add_disk(struct vm_config *cfg, const struct disk_config *d);
/*
 * Boot-time checks of cfg->disks[@i], named after the JSON fields ("disks[0].queue_size: ...").
 * -EINVAL, or -EEXIST for a duplicate id or path (the API answers 409).
 */
int config_validate_disk(const struct vm_config *cfg, unsigned i, char *err, size_t errlen);
/*
 * --net tap=NAME,ip=,mask=,mac=,host_mac=,mtu=,num_queues=,queue_size=,id=,fd=[3,4],
 * pci_device_id=,offload_tso=,offload_ufo=,offload_csum= (Cloud Hypervisor's keys).
 */
void config_net_defaults(struct net_config *n);
int config_parse_net(const char *s, struct net_config *n, char *err, size_t errlen);
void config_net_free(struct net_config *n);
int config_add_net(struct vm_config *cfg, const struct net_config *n);
/* Boot-time checks of cfg->nets[@i] ("net[0].num_queues: ..."); -EINVAL or -EEXIST. */
int config_validate_net(const struct vm_config *cfg, unsigned i, char *err, size_t errlen);
/* The end of the k=v item at @s: the next ',' outside brackets ("fd=[3,4]"), or the NUL. */
char *config_item_end(char *s);
/* "52:54:00:12:34:56" into @mac; false if malformed. */
bool config_parse_mac(const char *s, uint8_t mac[6]);
/* Whether a disk or net already uses @id / @slot (besides net @self, -1: none). */
bool config_id_in_use(const struct vm_config *cfg, const char *id, int self);
bool config_slot_in_use(const struct vm_config *cfg, int slot, int self);

/*
 * cpus (config_cpus.c): --cpus boot=N,max=M,topology=T:C:D:P (CH's keys and order: threads per
 * core, cores per die, dies per package, packages).
 */
int config_parse_cpus(const char *s, struct vm_config *cfg, char *err, size_t errlen);
unsigned config_max_vcpus(const struct vm_config *cfg);
/* The topology in effect: the given one, else one thread per core and every vCPU a core. */
void config_topology(const struct vm_config *cfg, struct cpu_topology *out);
/*
 * boot_vcpus 1..max_vcpus, max_vcpus up to CONFIG_MAX_VCPUS, a topology whose product is
 * max_vcpus and whose APIC IDs fit xAPIC (< 255). -EINVAL naming the field ("cpus.topology").
 */
int config_validate_cpus(const struct vm_config *cfg, char *err, size_t errlen);

/* --vsock cid=N,socket=PATH[,id=I,pci_segment=0,iommu=off] (config_vsock.c). */
int config_parse_vsock(const char *s, struct vsock_config *v, char *err, size_t errlen);
void config_vsock_free(struct vsock_config *v);
/* Boot-time checks of cfg->vsock, named after the JSON fields ("vsock.cid: ..."). -EINVAL. */
int config_validate_vsock(const struct vm_config *cfg, char *err, size_t errlen);
/* --fs tag=,socket=,num_queues=,queue_size=,id=,pci_segment= (config_fs.c). */
int config_parse_fs(const char *s, struct fs_config *f, char *err, size_t errlen);
void config_fs_free(struct fs_config *f);
/* Whether an fs device (besides fs @self, -1: none) has @id. */
bool config_fs_id_in_use(const struct vm_config *cfg, const char *id, int self);
/* Appends @f (moved). -ENOMEM. */
int config_add_fs(struct vm_config *cfg, const struct fs_config *f);
/* Boot-time checks of cfg->fs[@i] ("fs[0].tag: ..."); -EINVAL or -EEXIST (duplicate id). */
int config_validate_fs(const struct vm_config *cfg, unsigned i, char *err, size_t errlen);
/* Checks that at most one of serial and console uses the terminal (CH's DoubleTtyMode). */
int config_check_consoles(const struct vm_config *cfg, char *err, size_t errlen);
/* Cloud Hypervisor's on/off/true/false; false (and *@out untouched) for anything else. */
bool config_parse_bool(const char *val, bool *out);
/* k=v items of an option (@opt: "--disk"): a decimal in 0-@max, on/off; one-line errors. */
int config_parse_num(const char *opt, const char *key, const char *val, uint64_t max,
		     uint64_t *out, char *err, size_t errlen);
int config_option_bool(const char *opt, const char *key, const char *val, bool *out, char *err,
		       size_t errlen);
/*
 * Walks "k1=v1,k2=v2" (commas inside [...] do not split: "fd=[3,4]") and calls @fn for each
 * pair; "" or only commas, or an item without '=', is a one-line error naming @opt. Cloud
 * Hypervisor's lists use this shape: --cpus, --memory, --disk, --net, --vsock, ...
 */
typedef int (*config_kv_fn)(void *ctx, const char *key, const char *val, char *err,
			    size_t errlen);
int config_parse_kv(const char *opt, const char *s, config_kv_fn fn, void *ctx, char *err,
		    size_t errlen);
/* A bucket given a size but no refill time (CLI keys: bw_size without bw_refill_time...). */
bool config_rate_limit_incomplete(const struct rate_limiter_config *rl);
/* Replaces *@dst with a copy of @src: 0 or -ENOMEM. */
int config_set_str(char **dst, const char *src);
/* "tty", "null", "off", "file=PATH". */
int config_parse_console(const char *s, struct console_config *out, char *err, size_t errlen);

/* The --help text. */
extern const char config_usage[];

#endif
