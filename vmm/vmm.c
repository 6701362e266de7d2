// SPDX-License-Identifier: Apache-2.0
/*
 * The VMM thread. It alone touches the VM: API requests arrive through a queue and an eventfd
 * (api/api.h), so vm.info and vmm.ping stay answerable on the API thread while a long
 * operation runs here. It owns the VM's lifecycle state (vmm/state.c); the requests are
 * answered in vmm/requests.c.
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

#include "base/file.h"
#include "base/log.h"
#include "vmm/internal.h"
#include "vmm/vmm.h"

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

/* A file output: no FIFO (its reader could stall a vCPU), no symlink, private to us. */
static int open_console_output(const struct console_config *c, const char *what, char *err,
			       size_t errlen)
{
	if (c->mode == CONSOLE_TTY)
		return dup(STDOUT_FILENO);
	if (c->mode == CONSOLE_FILE)
		return file_open(what, c->file, O_WRONLY | O_CREAT | O_NOFOLLOW, 0600,
				 FILE_TYPE_REG, err, errlen);
	return -1;   /* null: the port exists, output is dropped; off: no port */
}

/* Publishes vm.info for the API thread; call before completing the request that changed it. */
void vmm_publish(struct vmm *vmm)
{
	char *info = NULL;

	if (!vmm->api)
		return;
	if (vmm->cfg)
		info = api_vm_info_json(vmm->cfg, vm_state_name(vmm->state), vmm->cfg->memory_size,
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
void vmm_forget_vm(struct vmm *vmm)
{
	if (vmm->persist.serial_out_fd >= 0)
		close(vmm->persist.serial_out_fd);
	if (vmm->persist.console_out_fd >= 0)
		close(vmm->persist.console_out_fd);
	memset(&vmm->persist, 0, sizeof(vmm->persist));
	vmm->persist.serial_out_fd = vmm->persist.console_out_fd = -1;
	vmm->outputs_fresh = false;
	if (vmm->cfg) {
		config_free(vmm->cfg);
		free(vmm->cfg);
	}
	vmm->cfg = NULL;
	vmm->state = VM_STATE_NONE;
}

static void vmm_watch(struct vmm *vmm, int fd, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	/* EPERM: stdin is a regular file or /dev/null, which epoll cannot watch; no input then. */
	if (epoll_ctl(vmm->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) && on &&
	    errno != EPERM)
		pr_err("epoll_ctl(%d): %s", fd, strerror(errno));
}

enum vm_exit_reason vmm_stop_vm(struct vmm *vmm)
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
	vmm->state = VM_STATE_CREATED;   /* CH: a shut-down VM reads back as Created */
	return reason;
}

int vmm_open_outputs(struct vmm *vmm, char *err, size_t errlen)
{
	const struct console_config *c[2] = { &vmm->cfg->serial, &vmm->cfg->console };
	int *fd[2] = { &vmm->persist.serial_out_fd, &vmm->persist.console_out_fd };
	static const char *const name[2] = { "serial output file", "console output file" };

	for (unsigned i = 0; i < 2; i++) {
		if (*fd[i] >= 0)
			continue;
		*fd[i] = open_console_output(c[i], name[i], err, errlen);
		if (*fd[i] < 0 && c[i]->mode == CONSOLE_FILE) {
			int ret = *fd[i];

			*fd[i] = -1;
			return ret;
		}
		vmm->outputs_fresh |= c[i]->mode == CONSOLE_FILE;
	}
	return 0;
}

void vmm_truncate_outputs(struct vmm *vmm)
{
	const struct console_config *c[2] = { &vmm->cfg->serial, &vmm->cfg->console };
	int fd[2] = { vmm->persist.serial_out_fd, vmm->persist.console_out_fd };

	if (!vmm->outputs_fresh)
		return;
	vmm->outputs_fresh = false;
	for (unsigned i = 0; i < 2; i++) {
		if (c[i]->mode == CONSOLE_FILE && fd[i] >= 0 && ftruncate(fd[i], 0))
			pr_warn("cannot truncate '%s': %s", c[i]->file, strerror(errno));
	}
}

/* A VM now exists (booted or restored): watch its fds, give it the terminal. */
void vmm_attach_vm(struct vmm *vmm)
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
int vmm_boot(struct vmm *vmm, char *err, size_t errlen)
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
	vmm_truncate_outputs(vmm);        /* before the guest can write */
	ret = vm_start(vmm->vm);
	if (ret) {
		snprintf(err, errlen, "cannot start the vCPUs: %s", strerror(-ret));
		vm_destroy(vmm->vm);
		vmm->vm = NULL;
		return ret;
	}
	vmm->persist.boots++;
	vmm_attach_vm(vmm);
	vmm->state = VM_STATE_RUNNING;
	pr_info("booted %s (boot %u, %u vCPUs, %llu MiB)", vmm->cfg->kernel, vmm->persist.boots,
		vmm->cfg->boot_vcpus, (unsigned long long)(vmm->cfg->memory_size >> 20));
	api_event("vm", "booted");
	return 0;
}

int vmm_reboot(struct vmm *vmm, char *err, size_t errlen)
{
	api_event("vm", "rebooting");
	vmm_stop_vm(vmm);
	if (vmm_boot(vmm, err, errlen))
		return -1;
	api_event("vm", "rebooted");
	return 0;
}

void vmm_finish(struct vmm *vmm, int status)
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
				vmm->opts->restore.net_fds, vmm->opts->restore.nr_net_fds, err,
				sizeof(err))) {
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
				vmm_device_work(vmm);
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
			snprintf(err, errlen, "--api-socket: '%s' is not path=P[,mode=0660], fd=N "
				 "or a path", opts->api_socket);
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
	vmm->state = cli_cfg ? VM_STATE_CREATED : VM_STATE_NONE;
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
