// SPDX-License-Identifier: Apache-2.0
/*
 * The VMM thread. It alone touches the VM: API requests arrive through a queue and an eventfd
 * (api/api.h), so vm.info and vmm.ping stay answerable on the API thread while a long
 * operation runs here. States and transitions follow Cloud Hypervisor's VmState
 * (ch-api.md section 1): no config, Created, Running, Paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "base/log.h"
#include "vm/vm.h"
#include "vmm/vmm.h"

struct terminal {
	bool raw;
	struct termios saved;
};

struct vmm {
	struct vm_config *cfg;        /* NULL: no VM created */
	struct vm *vm;                /* NULL: not booted */
	enum api_vm_state state;
	unsigned id_counter;          /* CH's device id counter: _disk0, _net1, ... */
	struct vm_persist persist;
	struct api_server *api;
	int epfd, signal_fd;
	bool quit;
	int exit_status;
	struct terminal term;
	bool stdin_watched;           /* COM1 input in tty mode */
	const struct vmm_options *opts;
};

/*
 * Raw terminal input so the guest sees every key, but ISIG stays on: Ctrl-C stops vireo
 * cleanly, and the terminal is restored on every exit path.
 */
static void terminal_raw(struct terminal *t)
{
	struct termios raw;

	if (t->raw || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved))
		return;
	raw = t->saved;
	cfmakeraw(&raw);
	raw.c_lflag |= ISIG;
	raw.c_oflag |= OPOST | ONLCR;
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &raw))
		t->raw = true;
}

static void terminal_restore(struct terminal *t)
{
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	t->raw = false;
}

static int open_console_output(const struct console_config *c)
{
	if (c->mode == CONSOLE_TTY)
		return dup(STDOUT_FILENO);
	if (c->mode == CONSOLE_FILE)
		return open(c->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return -1;   /* null: the port exists, output is dropped; off: no port */
}

/* Publishes vm.info for the API thread; call before completing the request that changed it. */
static void vmm_publish(struct vmm *vmm)
{
	char *info = NULL;

	if (!vmm->api)
		return;
	if (vmm->cfg)
		info = api_vm_info_json(vmm->cfg, vmm->state, vmm->cfg->memory_size,
					vmm->vm ? vm_device_tree_json(vmm->vm) : NULL);
	api_server_publish_info(vmm->api, info);
	free(info);
}

/* The guest moved a BAR: vm.info shows the new placement. */
static void vmm_republish(struct vmm *vmm)
{
	uint64_t n;

	if (read(vm_info_fd(vmm->vm), &n, sizeof(n)) == sizeof(n))
		vmm_publish(vmm);
}

/*
 * Drops the VM config with what belonged to it: its serial output and its CMOS NVRAM, which
 * survive guest reboots of this VM but not a vm.delete (a later vm.create is a new machine).
 */
static void vmm_forget_vm(struct vmm *vmm)
{
	if (vmm->persist.serial_out_fd >= 0)
		close(vmm->persist.serial_out_fd);
	if (vmm->persist.console_out_fd >= 0)
		close(vmm->persist.console_out_fd);
	memset(&vmm->persist, 0, sizeof(vmm->persist));
	vmm->persist.serial_out_fd = vmm->persist.console_out_fd = -1;
	if (vmm->cfg) {
		config_free(vmm->cfg);
		free(vmm->cfg);
	}
	vmm->cfg = NULL;
	vmm->state = API_STATE_NONE;
}

static void vmm_watch(struct vmm *vmm, int fd, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	/* EPERM: stdin is a regular file or /dev/null, which epoll cannot watch; no input then. */
	if (epoll_ctl(vmm->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) && on &&
	    errno != EPERM)
		pr_err("epoll_ctl(%d): %s", fd, strerror(errno));
}

static enum vm_exit_reason vmm_stop_vm(struct vmm *vmm)
{
	enum vm_exit_reason reason;

	if (!vmm->vm)
		return VM_EXIT_NONE;
	vmm_watch(vmm, vm_exit_fd(vmm->vm), false);
	vmm_watch(vmm, vm_irq_fd(vmm->vm), false);
	vmm_watch(vmm, vm_info_fd(vmm->vm), false);
	vmm_watch(vmm, vm_device_fd(vmm->vm), false);
	if (vmm->stdin_watched)
		vmm_watch(vmm, STDIN_FILENO, false);
	vmm->stdin_watched = false;
	reason = vm_stop(vmm->vm);
	vm_destroy(vmm->vm);
	vmm->vm = NULL;
	vmm->state = API_STATE_CREATED;   /* CH: a shut-down VM reads back as Created */
	return reason;
}

/* Serial and console outputs outlive guest reboots (files are truncated once per VM). */
static int vmm_open_outputs(struct vmm *vmm, char *err, size_t errlen)
{
	const struct console_config *c[2] = { &vmm->cfg->serial, &vmm->cfg->console };
	int *fd[2] = { &vmm->persist.serial_out_fd, &vmm->persist.console_out_fd };
	static const char *const name[2] = { "serial", "console" };

	for (unsigned i = 0; i < 2; i++) {
		if (*fd[i] >= 0)
			continue;
		*fd[i] = open_console_output(c[i]);
		if (*fd[i] < 0 && c[i]->mode == CONSOLE_FILE) {
			snprintf(err, errlen, "%s: cannot open '%s': %s", name[i], c[i]->file,
				 strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* A VM now exists (booted or restored): watch its fds, give it the terminal. */
static void vmm_attach_vm(struct vmm *vmm)
{
	vmm_watch(vmm, vm_exit_fd(vmm->vm), true);
	vmm_watch(vmm, vm_irq_fd(vmm->vm), true);
	vmm_watch(vmm, vm_info_fd(vmm->vm), true);
	vmm_watch(vmm, vm_device_fd(vmm->vm), true);
	/* tty input goes to COM1 through here; virtio-console's worker reads it itself. */
	if (vmm->cfg->serial.mode == CONSOLE_TTY) {
		vmm_watch(vmm, STDIN_FILENO, true);   /* fails harmlessly for a regular file */
		vmm->stdin_watched = true;
	}
	if (vmm->cfg->serial.mode == CONSOLE_TTY || vmm->cfg->console.mode == CONSOLE_TTY)
		terminal_raw(&vmm->term);
}

/* Creates and starts the VM from vmm->cfg. -errno with the reason in @err. */
static int vmm_boot(struct vmm *vmm, char *err, size_t errlen)
{
	int ret;

	/* Disks without an id get _diskN (CH's one counter), from the CLI as from the API. */
	if (api_config_assign_ids(vmm->cfg, &vmm->id_counter)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = vmm_open_outputs(vmm, err, errlen);
	if (ret)
		return ret;
	api_event("vm", "booting");
	ret = vm_create(vmm->cfg, &vmm->persist, &vmm->vm, err, errlen);
	if (ret)
		return ret;
	ret = vm_start(vmm->vm);
	if (ret) {
		snprintf(err, errlen, "cannot start the vCPUs: %s", strerror(-ret));
		vm_destroy(vmm->vm);
		vmm->vm = NULL;
		return ret;
	}
	vmm->persist.boots++;
	vmm_attach_vm(vmm);
	vmm->state = API_STATE_RUNNING;
	pr_info("booted %s (boot %u, %u vCPUs, %llu MiB)", vmm->cfg->kernel, vmm->persist.boots,
		vmm->cfg->boot_vcpus, (unsigned long long)(vmm->cfg->memory_size >> 20));
	api_event("vm", "booted");
	return 0;
}

static int vmm_reboot(struct vmm *vmm, char *err, size_t errlen)
{
	api_event("vm", "rebooting");
	vmm_stop_vm(vmm);
	if (vmm_boot(vmm, err, errlen))
		return -1;
	api_event("vm", "rebooted");
	return 0;
}

static void vmm_finish(struct vmm *vmm, int status)
{
	vmm->quit = true;
	vmm->exit_status = status;
}

/* The guest (or a fatal exit) ended the VM. */
static void vmm_handle_vm_exit(struct vmm *vmm)
{
	enum vm_exit_reason reason = vmm_stop_vm(vmm);
	char err[512];

	switch (reason) {
	case VM_EXIT_REBOOT:
		pr_info("guest rebooted; starting again from the same configuration");
		if (vmm_reboot(vmm, err, sizeof(err))) {
			pr_err("reboot failed: %s", err);
			vmm_finish(vmm, 1);
		}
		break;
	case VM_EXIT_POWEROFF:
		pr_info("guest powered off");
		api_event("vm", "shutdown");
		vmm_finish(vmm, 0);   /* CH: guest poweroff ends the VMM */
		break;
	default:
		vmm_finish(vmm, 1);   /* already logged with the vCPU's registers */
		break;
	}
	vmm_publish(vmm);
}

static void vmm_api_boot(struct vmm *vmm, struct api_request *req)
{
	char err[512];
	int ret;

	ret = api_config_validate(vmm->cfg, err, sizeof(err));
	if (ret) {
		api_request_fail(req, ret == -EEXIST ? 409 : 400, "The VM could not boot",
				 "Invalid VmConfig", err, NULL);
		return;
	}
	if (vmm_boot(vmm, err, sizeof(err))) {
		pr_err("boot failed: %s", err);
		api_request_fail(req, 500, "The VM could not boot", err, NULL);
		return;
	}
	vmm_publish(vmm);
	api_request_complete(req, 204, NULL);
}

static void vmm_api_simple(struct vmm *vmm, struct api_request *req, const char *event_before,
			   const char *event_after)
{
	if (event_before)
		api_event("vm", event_before);
	switch (req->action) {
	case API_VM_PAUSE:
		vm_pause(vmm->vm);
		vm_pause_pci_devices(vmm->vm);
		vmm->state = API_STATE_PAUSED;
		break;
	case API_VM_RESUME:
		vm_resume_pci_devices(vmm->vm);
		vm_resume(vmm->vm);
		vmm->state = API_STATE_RUNNING;
		break;
	case API_VM_SHUTDOWN:
		vmm_stop_vm(vmm);
		break;
	case API_VM_DELETE:
		vmm_stop_vm(vmm);
		vmm_forget_vm(vmm);
		break;
	default:
		break;
	}
	if (event_after)
		api_event("vm", event_after);
	vmm_publish(vmm);
	api_request_complete(req, 204, NULL);
}

static void vmm_api_edit_config(struct vmm *vmm, struct api_request *req)
{
	char err[512];
	int ret;

	if (req->action == API_VM_ADD_DISK) {
		/* The contents move into the config; the zeroed shell stays the request's. */
		ret = api_config_add_disk(vmm->cfg, req->disk, err, sizeof(err));
		if (ret)
			api_request_fail(req, ret == -EEXIST ? 409 : 400,
					 "The disk could not be added to the VM", err, NULL);
	} else {
		ret = api_config_remove_device(vmm->cfg, req->device_id);
		if (ret) {
			snprintf(err, sizeof(err), "No device with id \"%s\" to remove",
				 req->device_id);
			api_request_fail(req, 404, "The device could not be removed from the VM",
					 err, NULL);
		}
	}
	if (!ret) {
		vmm_publish(vmm);
		api_request_complete(req, 204, NULL);
	}
}

/* Errors the caller can fix (bad URL, missing directory, existing snapshot) answer 400. */
static int snapshot_status(int ret)
{
	return ret == -ENOMEM || ret == -EIO || ret == -ENOSPC ? 500 : 400;
}

static void vmm_api_snapshot(struct vmm *vmm, struct api_request *req)
{
	struct snap_mem_stats stats = { 0 };
	char path[4096], err[512];
	char *config = NULL;
	int ret;

	ret = snap_url_to_path(req->url, "destination_url", path, sizeof(path), err, sizeof(err));
	if (!ret && !(config = api_config_to_json(vmm->cfg))) {
		snprintf(err, sizeof(err), "out of memory");
		ret = -ENOMEM;
	}
	if (!ret) {
		api_event("vm", "snapshotting");
		ret = vm_snapshot(vmm->vm, config, path, &stats, err, sizeof(err));
	}
	free(config);
	if (ret) {
		pr_err("snapshot failed: %s", err);
		api_request_fail(req, snapshot_status(ret), "The VM could not be snapshotted", err,
				 NULL);
		return;
	}
	pr_info("snapshot in %s: %llu bytes of RAM written", path,
		(unsigned long long)stats.written);
	api_event("vm", "snapshotted");
	api_request_complete(req, 204, NULL);
}

/* config.json as the API parses a VmConfig, then CH's boot-time checks. */
static int read_snapshot_config(int dirfd, struct vm_config *cfg, char *err, size_t errlen)
{
	char *text, why[384];
	cJSON *json = NULL;
	size_t len;
	int ret;

	ret = snap_read_file(dirfd, SNAP_CONFIG_FILE, 1u << 20, &text, &len, err, errlen);
	if (ret)
		return ret;
	ret = api_json_parse(text, len, &json, why, sizeof(why));
	free(text);
	ret = ret ?: api_config_from_json(json, cfg, why, sizeof(why));
	cJSON_Delete(json);
	ret = ret ?: api_config_validate(cfg, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "%s: %s", SNAP_CONFIG_FILE, why);
	return ret;
}

static int vmm_restore(struct vmm *vmm, const char *url, const struct vm_restore_opts *o, bool resume,
		char *err, size_t errlen)
{
	struct vm_config *cfg = calloc(1, sizeof(*cfg));
	cJSON *st = NULL;
	char path[4096];
	int dirfd = -1, ret = -ENOMEM;

	if (!cfg)
		return snprintf(err, errlen, "out of memory"), ret;
	ret = snap_url_to_path(url, "source_url", path, sizeof(path), err, errlen);
	if (!ret && (dirfd = snap_dir_open(path, err, errlen)) < 0)
		ret = dirfd;
	ret = ret ?: read_snapshot_config(dirfd, cfg, err, errlen);
	ret = ret ?: snap_state_read(dirfd, &st, err, errlen);
	vmm->cfg = cfg;   /* vmm_forget_vm() frees it on failure */
	vmm->state = API_STATE_CREATED;
	if (!ret) {
		api_event("vm", "restoring");
		ret = vmm_open_outputs(vmm, err, errlen);
	}
	ret = ret ?: vm_restore(cfg, &vmm->persist, st, dirfd, o, &vmm->vm, err, errlen);
	cJSON_Delete(st);
	if (dirfd >= 0)
		close(dirfd);
	if (ret) {
		vmm_forget_vm(vmm);   /* CH issue 6869: the VMM stays clean for a retry */
		return ret;
	}
	vmm->persist.boots++;
	vmm_attach_vm(vmm);
	vmm->state = API_STATE_PAUSED;
	api_event("vm", "restored");
	if (resume) {
		vm_resume(vmm->vm);
		vmm->state = API_STATE_RUNNING;
	} else {
		vm_pause_pci_devices(vmm->vm);   /* restore restarted active devices' workers */
	}
	pr_info("restored from %s (%s memory%s)%s", path, o->copy ? "copied" : "lazily mapped",
		o->prefault ? ", prefaulted" : "", resume ? ", resumed" : ", paused");
	return 0;
}

static void vmm_api_restore(struct vmm *vmm, struct api_request *req)
{
	struct vm_restore_opts o = {
		.copy = req->restore.memory_mode == API_RESTORE_COPY,
		.prefault = req->restore.prefault,
	};
	char err[512];
	int ret = vmm_restore(vmm, req->url, &o, req->restore.resume, err, sizeof(err));

	vmm_publish(vmm);
	if (ret) {
		pr_err("restore failed: %s", err);
		api_request_fail(req, ret == -ENOMEM ? 500 : 400, "The VM could not be restored",
				 err, NULL);
		return;
	}
	api_request_complete(req, 204, NULL);
}

static void vmm_api_counters(struct vmm *vmm, struct api_request *req)
{
	cJSON *counters = vm_counters_json(vmm->vm);
	char *body = counters ? cJSON_PrintUnformatted(counters) : NULL;

	if (body)
		api_request_complete(req, 200, body);
	else
		api_request_fail(req, 500, "Error getting counters", "out of memory", NULL);
	free(body);
	cJSON_Delete(counters);
}

/*
 * vm.power-button: a GED event the guest's OSPM turns into KEY_POWER. Cloud Hypervisor allows
 * it on any booted VM (api_check_action): on a paused one the event waits in the GED and the
 * in-kernel IOAPIC/LAPIC and is taken once vm.resume runs the vCPUs again.
 */
static void vmm_api_power_button(struct vmm *vmm, struct api_request *req)
{
	char err[128];
	int ret = vm_power_button(vmm->vm);

	if (ret) {
		snprintf(err, sizeof(err), "cannot raise the GED interrupt: %s", strerror(-ret));
		api_request_fail(req, 500, "Error triggering power button", err, NULL);
		return;
	}
	api_request_complete(req, 204, NULL);   /* CH emits no event for it */
}

static void vmm_handle_request(struct vmm *vmm, struct api_request *req)
{
	char body[1024], err[512];
	int status = api_check_action(req->action, vmm->state, body, sizeof(body));

	if (status) {
		api_request_complete(req, status, body);
		return;
	}
	switch (req->action) {
	case API_VM_CREATE:
		vmm->cfg = req->config;
		req->config = NULL;
		vmm->state = API_STATE_CREATED;
		vmm_publish(vmm);
		api_request_complete(req, 204, NULL);
		break;
	case API_VM_BOOT: vmm_api_boot(vmm, req); break;
	case API_VM_PAUSE: vmm_api_simple(vmm, req, "pausing", "paused"); break;
	case API_VM_RESUME: vmm_api_simple(vmm, req, "resuming", "resumed"); break;
	case API_VM_SHUTDOWN: vmm_api_simple(vmm, req, NULL, "shutdown"); break;
	case API_VM_DELETE: vmm_api_simple(vmm, req, NULL, "deleted"); break;
	case API_VM_REBOOT:
		if (vmm_reboot(vmm, err, sizeof(err))) {
			vmm_publish(vmm);
			api_request_fail(req, 500, "The VM could not reboot", err, NULL);
			break;
		}
		vmm_publish(vmm);
		api_request_complete(req, 204, NULL);
		break;
	case API_VM_COUNTERS: vmm_api_counters(vmm, req); break;
	case API_VM_SNAPSHOT: vmm_api_snapshot(vmm, req); break;
	case API_VM_RESTORE: vmm_api_restore(vmm, req); break;
	case API_VM_POWER_BUTTON: vmm_api_power_button(vmm, req); break;
	case API_VM_ADD_DISK:
	case API_VM_REMOVE_DEVICE:
		vmm_api_edit_config(vmm, req);
		break;
	case API_VMM_SHUTDOWN:
		vmm_stop_vm(vmm);
		api_request_complete(req, 200, NULL);   /* CH: 200 with an empty body */
		vmm_finish(vmm, 0);
		break;
	default:
		api_request_fail(req, 500, "The request could not be handled",
				 "not supported by vireo yet", NULL);
		break;
	}
}

static void vmm_handle_signal(struct vmm *vmm)
{
	struct signalfd_siginfo si;

	if (read(vmm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR2) {   /* debugging aid: where is each vCPU? */
		if (vmm->vm)
			vm_dump_vcpus(vmm->vm);
		return;
	}
	pr_warn("received signal %u; stopping", si.ssi_signo);
	vmm_stop_vm(vmm);
	vmm_finish(vmm, 128 + (int)si.ssi_signo);
}

static void vmm_handle_input(struct vmm *vmm)
{
	uint8_t buf[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n > 0 && vmm->vm)
		vm_serial_input(vmm->vm, buf, (size_t)n);
	else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		vmm_watch(vmm, STDIN_FILENO, false);   /* EOF: no more input */
}

int vmm_run(struct vmm *vmm)
{
	struct epoll_event events[8];
	struct api_request *req;
	char err[512];
	int i, n;

	/* --kernel: create and boot through the same path as vm.create + vm.boot. */
	if (vmm->cfg && vmm_boot(vmm, err, sizeof(err))) {
		pr_err("%s", err);
		return 1;
	}
	/* --restore: the same path as vm.restore. */
	if (vmm->opts->restore.source_url) {
		struct vm_restore_opts o = {
			.copy = vmm->opts->restore.copy, .prefault = vmm->opts->restore.prefault,
		};

		if (vmm_restore(vmm, vmm->opts->restore.source_url, &o, vmm->opts->restore.resume,
				err, sizeof(err))) {
			pr_err("--restore: %s", err);
			return 1;
		}
	}
	vmm_publish(vmm);
	while (!vmm->quit) {
		n = epoll_wait(vmm->epfd, events, 8, -1);
		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (i = 0; i < n && !vmm->quit; i++) {
			int fd = events[i].data.fd;

			if (fd == vmm->signal_fd)
				vmm_handle_signal(vmm);
			else if (vmm->api && fd == api_server_eventfd(vmm->api))
				while (!vmm->quit && (req = api_server_next_request(vmm->api)))
					vmm_handle_request(vmm, req);
			else if (vmm->vm && fd == vm_exit_fd(vmm->vm))
				vmm_handle_vm_exit(vmm);
			else if (vmm->vm && fd == vm_irq_fd(vmm->vm))
				vm_irq_poll(vmm->vm);
			else if (vmm->vm && fd == vm_info_fd(vmm->vm))
				vmm_republish(vmm);
			else if (vmm->vm && fd == vm_device_fd(vmm->vm))
				vm_run_device_work(vmm->vm);
			else if (fd == STDIN_FILENO)
				vmm_handle_input(vmm);
		}
	}
	return vmm->exit_status;
}

/* SIGINT/SIGTERM/SIGHUP/SIGUSR2 arrive through a signalfd; vCPU threads never see them. */
static int vmm_setup_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	sigdelset(&set, SIGPIPE);   /* blocked, so a closed output gives EPIPE, not death */
	return signalfd(-1, &set, SFD_CLOEXEC);
}

int vmm_create(const struct vmm_options *opts, struct vm_config *cli_cfg, struct vmm **out,
	       char *err, size_t errlen)
{
	struct api_socket_spec spec = { .fd = -1 };
	struct vmm *vmm = calloc(1, sizeof(*vmm));
	int ret = -ENOMEM;

	if (!vmm)
		goto err;
	vmm->persist.serial_out_fd = vmm->persist.console_out_fd = -1;
	vmm->epfd = epoll_create1(EPOLL_CLOEXEC);
	vmm->signal_fd = vmm_setup_signals();
	if (vmm->epfd < 0 || vmm->signal_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
		goto err;
	}
	if (opts->event_monitor && (ret = api_event_monitor_open(opts->event_monitor, err, errlen)))
		goto err;
	if (opts->api_socket) {
		if (api_parse_socket_spec(opts->api_socket, &spec)) {
			ret = -EINVAL;
			snprintf(err, errlen, "--api-socket: '%s' is not path=P, fd=N or a path",
				 opts->api_socket);
			goto err;
		}
		ret = api_server_start(&spec, &vmm->api, err, errlen);
		api_socket_spec_free(&spec);
		if (ret)
			goto err;
		vmm_watch(vmm, api_server_eventfd(vmm->api), true);
	}
	vmm_watch(vmm, vmm->signal_fd, true);
	vmm->cfg = cli_cfg;
	vmm->opts = opts;
	vmm->state = cli_cfg ? API_STATE_CREATED : API_STATE_NONE;
	api_event("vmm", "starting");
	*out = vmm;
	return 0;
err:
	vmm_destroy(vmm);
	return ret;
}

void vmm_destroy(struct vmm *vmm)
{
	if (!vmm)
		return;
	vmm_stop_vm(vmm);
	terminal_restore(&vmm->term);
	api_event("vmm", "shutdown");
	api_server_stop(vmm->api);
	api_event_monitor_close();
	vmm_forget_vm(vmm);
	if (vmm->signal_fd >= 0)
		close(vmm->signal_fd);
	if (vmm->epfd >= 0)
		close(vmm->epfd);
	free(vmm);
}
