/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo's REST API, wire-compatible with Cloud Hypervisor's (docs/api.md): an
 * HTTP/1.1 server on a Unix socket, the route table, VmConfig <-> JSON and the --event-monitor
 * stream. Which request each VM state allows is the VMM's (vmm/state.h).
 *
 * Threads: the server's threads never touch VM state. A request that needs the VMM becomes a
 * struct api_request on a queue; the VMM thread polls api_server_eventfd(), pops requests with
 * api_server_next_request(), acts, and answers with api_request_complete(). vmm.ping and vm.info
 * are answered by the server itself (vm.info from the copy the VMM publishes), so they keep
 * answering while the VMM thread is busy (CH's stop answering then).
 */
#ifndef VIREO_API_API_H
#define VIREO_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct cJSON;

/* ---- Actions and routes --------------------------------------------------------------------- */

enum api_action {
	API_VMM_PING,
	API_VMM_SHUTDOWN,
	API_VM_CREATE,
	API_VM_DELETE,
	API_VM_BOOT,
	API_VM_INFO,
	API_VM_COUNTERS,
	API_VM_PAUSE,
	API_VM_RESUME,
	API_VM_SHUTDOWN,
	API_VM_REBOOT,
	API_VM_POWER_BUTTON,
	API_VM_ADD_DISK,
	API_VM_ADD_NET,
	API_VM_REMOVE_DEVICE,
	API_VM_SNAPSHOT,
	API_VM_RESTORE,
	API_VM_ADD_VSOCK,
	API_VM_RESIZE,
	API_VM_ADD_FS,
	API_ACTION_COUNT
};

/* The route table, for docs and tests: "/api/v1/vm.boot", "PUT". NULL past the end. */
const char *api_route_path(unsigned i);
const char *api_route_method(unsigned i);

/* ---- Server -------------------------------------------------------------------------------- */

#define API_MAX_BODY        (4u << 20)  /* CH's HTTP_PAYLOAD_MAX_SIZE */
#define API_MAX_JSON_DEPTH  64
/*
 * Connections: at most API_MAX_CONNECTIONS, of which at most API_MAX_RECEIVING may still be
 * sending a request (or idle between two), so the rest stay free for requests being answered
 * however many slow clients connect. A request's head must arrive within
 * API_HEADER_DEADLINE_MS, its body within API_BODY_DEADLINE_MS after the head, and a client
 * that stops reading its answer is dropped after API_CONN_TIMEOUT_S (api/conn_guard.h).
 */
#define API_MAX_CONNECTIONS    128
#define API_MAX_RECEIVING      64
#define API_HEADER_DEADLINE_MS 10000
#define API_BODY_DEADLINE_MS   30000
#define API_CONN_TIMEOUT_S     30       /* idle time, as MHD counts it */
#define API_SOCKET_MODE        0600     /* the socket file's mode whatever the umask */

struct api_socket_spec {
	char *path;                /* NULL with fd >= 0 */
	int fd;                    /* -1 unless fd=N */
	unsigned mode;             /* path's socket file mode; 0 means API_SOCKET_MODE */
};

/*
 * "path=P[,mode=0660]", "fd=N" or a bare "P" (CH's parse_api_socket; mode= is vireo's, an
 * octal mode that keeps the owner's 0600 and adds group or other rw). 0 or -EINVAL/-ENOMEM.
 */
int api_parse_socket_spec(const char *arg, struct api_socket_spec *out);
void api_socket_spec_free(struct api_socket_spec *spec);

struct api_server;

/*
 * With a path: takes an exclusive flock on "P.lock" (a regular file, never through a link;
 * -EADDRINUSE when another process holds it), removes a socket file there that nobody answers
 * on (-EADDRINUSE if one does, -EEXIST for any other file), binds with the spec's mode and
 * listens. With fd: serves that AF_UNIX stream socket (-ENOTSOCK for any other fd). Starts
 * serving at once. 0 or -errno, with a message in @err.
 */
int api_server_start(const struct api_socket_spec *spec, struct api_server **out, char *err,
		     size_t errlen);
/*
 * Stops serving: answers already given are flushed (up to 1 s), requests still waiting are
 * answered 503, the socket file is removed (path case; P.lock stays, as in CH). Requests the
 * VMM popped but has not completed stay valid: after this call the VMM may only call
 * api_request_complete/api_request_fail on them. NULL is a no-op.
 */
void api_server_stop(struct api_server *srv);

/* Readable (EFD_NONBLOCK eventfd) whenever requests are queued. */
int api_server_eventfd(const struct api_server *srv);

/*
 * vm.info's answer, built by the VMM thread (api_vm_info_json) whenever the config or state
 * changes; NULL when no config exists (vm.info then answers 404). The server keeps a copy.
 * Publish before completing the request that caused the change, so a client that got its
 * answer never reads the old state afterwards.
 */
int api_server_publish_info(struct api_server *srv, const char *info_json);

/* ---- Requests handed to the VMM thread ----------------------------------------------------- */

struct api_request_priv;

/* CH's RestoreConfig besides source_url. */
enum api_memory_restore { API_RESTORE_ONDEMAND, API_RESTORE_COPY };

struct api_restore_opts {
	bool prefault;
	bool resume;
	enum api_memory_restore memory_mode;   /* vireo's default: OnDemand (lazy mapping) */
	struct net_fds_subst *net_fds;         /* net_fds, with the fds the request brought */
	unsigned nr_net_fds;
};

struct api_request {
	enum api_action action;
	/* Parsed on the API thread; the VMM may take ownership by setting the pointer to NULL. */
	struct vm_config *config;       /* vm.create */
	struct disk_config *disk;       /* vm.add-disk */
	struct net_config *net;         /* vm.add-net */
	struct vsock_config *vsock;     /* vm.add-vsock */
	struct fs_config *fs;           /* vm.add-fs */
	char *device_id;                /* vm.remove-device */
	char *url;                      /* vm.snapshot destination_url, vm.restore source_url */
	struct {                        /* vm.resize (VmResize); memory fields are refused */
		bool has_vcpus;
		unsigned desired_vcpus;
	} resize;
	struct api_restore_opts restore;  /* vm.restore */
	int *fds;                       /* sent with the request (SCM_RIGHTS); closed unless taken */
	unsigned nr_fds;
	struct api_request_priv *priv;  /* the server's */
};

/*
 * The next queued request, or NULL. Reads the eventfd. The caller owns the request until it
 * passes it to api_request_complete(), which it must do exactly once; the client may have
 * gone by then, which is harmless.
 */
struct api_request *api_server_next_request(struct api_server *srv);

/*
 * Answers @req: @status (200, 204, 4xx, 5xx) and an optional JSON body (copied; ignored for
 * 204). vmm.shutdown answers 200 with no body, as CH does. Frees @req when the client is gone.
 */
void api_request_complete(struct api_request *req, int status, const char *body_json);

/*
 * Answers @req with CH's error shape ["Error from API", @outer, @cause...]: the messages after
 * @status are a NULL-terminated list, e.g. "The VM could not boot", "Invalid VmConfig", err.
 */
void api_request_fail(struct api_request *req, int status, const char *outer, ...)
	__attribute__((sentinel));

/* ---- JSON ---------------------------------------------------------------------------------- */

/*
 * Parses an untrusted body: strict UTF-8, nesting capped at API_MAX_JSON_DEPTH, no raw control
 * characters or \u0000 in strings, a bounded number of values. Number items carry their exact
 * source text in valuestring, so u64 fields never go through a double. 0 or -EINVAL with a
 * message in @err.
 */
int api_json_parse(const char *buf, size_t len, struct cJSON **out, char *err, size_t errlen);

/* A malloc'd JSON array of the NULL-terminated messages, e.g. ["Not Found"]. */
char *api_error_json(const char *first, ...) __attribute__((sentinel));

/* ---- VmConfig <-> JSON --------------------------------------------------------------------- */

/*
 * A snapshot's config.json: as api_config_from_json, but a net may list "fds" (stale numbers,
 * kept as -1 until config_substitute_net_fds gives new ones).
 */
int api_config_from_snapshot_json(const struct cJSON *json, struct vm_config *cfg, char *err,
				  size_t errlen);
/*
 * CH's VmConfig JSON into @cfg (fresh; free with config_free). Unknown fields are ignored;
 * wrong types, bad enum values and fields vireo cannot honour give -EINVAL with
 * "<field path>: <problem>" in @err. Defaults are CH's, except console (Off: vireo has no
 * virtio-console yet). Range checks wait for api_config_validate (CH validates at boot).
 */
int api_config_from_json(const struct cJSON *json, struct vm_config *cfg, char *err,
			 size_t errlen);
/* CH's DiskConfig JSON (vm.add-disk, disks[]) into @disk; same contract. */
int api_disk_from_json(const struct cJSON *json, struct disk_config *disk, char *err,
		       size_t errlen);
void api_disk_config_free(struct disk_config *disk);
/*
 * vm.add-net's NetConfig JSON into @net; same contract (config_net_free). @fds (@nr_fds of
 * them, sent with the request) become the net's own on success: the caller forgets them.
 */
int api_net_from_json(const struct cJSON *json, int *fds, unsigned nr_fds,
		      struct net_config *net, char *err, size_t errlen);
/* CH's VsockConfig JSON (vm.add-vsock, VmConfig.vsock) into @v; same contract. */
int api_vsock_from_json(const struct cJSON *json, struct vsock_config *v, char *err,
			size_t errlen);

/* CH's FsConfig JSON (vm.add-fs, VmConfig.fs[]) into @fs; same contract (config_fs_free). */
int api_fs_from_json(const struct cJSON *json, struct fs_config *fs, char *err, size_t errlen);

/* @cfg as CH's VmConfig JSON (absent optionals omitted); malloc'd, NULL on ENOMEM. */
char *api_config_to_json(const struct vm_config *cfg);
struct cJSON *api_config_to_cjson(const struct vm_config *cfg);

/*
 * CH's boot-time validation, plus vireo's limits: 0; -EINVAL (answer 400) or -EEXIST for a
 * duplicate disk id or path (answer 409), with "<field path>: <problem>" in @err.
 */
int api_config_validate(const struct vm_config *cfg, char *err, size_t errlen);

/*
 * Gives every disk without an id "_disk<N>", N from @counter, which is shared by all device
 * types and skips ids already in use (CH's DeviceManager::next_device_name). The VMM calls it
 * when it builds the devices at boot; 0 or -ENOMEM.
 */
int api_config_assign_ids(struct vm_config *cfg, unsigned *counter);

/*
 * vm.add-disk on a created VM: appends *@disk (moved: zeroed on success) after checking the
 * result as vm.boot would. Same returns as api_config_validate.
 */
int api_config_add_disk(struct vm_config *cfg, struct disk_config *disk, char *err,
			size_t errlen);
/* vm.add-net on a created VM: as api_config_add_disk, for *@net. */
int api_config_add_net(struct vm_config *cfg, struct net_config *net, char *err,
		       size_t errlen);
/*
 * vm.add-vsock on a created VM: sets the VM's vsock device from *@v (moved: zeroed on
 * success); -EINVAL when it has one already or *@v fails config_validate_vsock.
 */
int api_config_add_vsock(struct vm_config *cfg, struct vsock_config *v, char *err,
			 size_t errlen);
/* vm.add-fs on a created VM: as api_config_add_disk, for *@fs (config_validate_fs). */
int api_config_add_fs(struct vm_config *cfg, struct fs_config *fs, char *err, size_t errlen);
/* vm.remove-device on a created VM: 0, or -ENOENT when no device has @id (answer 404). */
int api_config_remove_device(struct vm_config *cfg, const char *id);

/*
 * CH's VmInfo: {"config", "state", "memory_actual_size", "device_tree"?}. @device_tree is the
 * VMM's device tree object (taken over and freed), or NULL to omit it (no VM object yet).
 * Malloc'd; NULL on ENOMEM.
 */
char *api_vm_info_json(const struct vm_config *cfg, const char *state,
		       uint64_t memory_actual_size, struct cJSON *device_tree);

/* vmm.ping's VmmPingResponse; malloc'd. */
char *api_ping_json(void);

/* ---- Event monitor ------------------------------------------------------------------------- */

/*
 * --event-monitor path=P | fd=N: CH's stream of pretty-printed JSON events, each followed by a
 * blank line. Process-wide, like the log: events come from whichever thread sees them.
 * 0 or -errno with a message in @err. Opening twice replaces the first.
 */
int api_event_monitor_open(const char *arg, char *err, size_t errlen);
void api_event_monitor_close(void);

/*
 * Emits {"timestamp":{"secs","nanos"} since the monitor opened, "source", "event",
 * "properties": null}. Thread-safe; never blocks on the reader (events are dropped and
 * counted when it falls behind); write errors are logged, never fatal.
 */
void api_event(const char *source, const char *event);
/* The same with properties: a NULL-terminated list of key, value strings. */
void api_event_props(const char *source, const char *event, ...) __attribute__((sentinel));

#endif
