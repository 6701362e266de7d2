// SPDX-License-Identifier: Apache-2.0
/*
 * vireo's entry point: parse the command line, then create, boot and wait for the VM,
 * creating it afresh from the same config each time the guest reboots.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

struct terminal {
	bool raw;
	struct termios saved;
};

/*
 * Raw input so the guest sees every key, but ISIG stays on: Ctrl-C stops vireo cleanly
 * (the terminal is restored on every exit path).
 */
static void terminal_raw(struct terminal *t)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved))
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

static int open_serial_output(const struct console_config *c)
{
	switch (c->mode) {
	case CONSOLE_TTY:
		return dup(STDOUT_FILENO);
	case CONSOLE_FILE:
		return open(c->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	default:
		return -1;   /* null: the port exists, output is dropped; off: no port */
	}
}

/* SIGINT/SIGTERM/SIGHUP/SIGUSR2 arrive through a signalfd; vCPU threads never see them. */
static int setup_signals(void)
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

static int run_vm(const struct vm_config *cfg, struct vm_persist *persist, int signal_fd)
{
	enum vm_exit_reason reason;
	char err[512];
	struct vm *vm;

	for (;;) {
		if (vm_create(cfg, persist, &vm, err, sizeof(err))) {
			pr_err("%s", err);
			return 1;
		}
		persist->boots++;
		pr_info("booting %s (boot %u, %u vCPUs, %llu MiB)", cfg->kernel, persist->boots,
			cfg->boot_vcpus, (unsigned long long)(cfg->memory_size >> 20));
		if (vm_start(vm)) {
			vm_destroy(vm);
			return 1;
		}
		reason = vm_wait(vm, STDIN_FILENO, signal_fd);
		vm_destroy(vm);
		switch (reason) {
		case VM_EXIT_REBOOT:
			pr_info("guest rebooted; starting again from the same configuration");
			continue;
		case VM_EXIT_POWEROFF:
			pr_info("guest powered off");
			return 0;
		case VM_EXIT_STOPPED:
			return 130;
		default:
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	struct vm_persist persist = { .serial_out_fd = -1 };
	struct terminal term = { 0 };
	struct vmm_options opts;
	struct vm_config cfg;
	char err[512];
	int ret = 1, signal_fd;

	if (config_parse_cli(argc, argv, &cfg, &opts, err, sizeof(err))) {
		fprintf(stderr, "vireo: error: %s\n", err);
		goto out;
	}
	if (opts.help || opts.version) {
		fputs(opts.help ? config_usage : "vireo v" VIREO_VERSION "\n", stdout);
		ret = 0;
		goto out;
	}
	log_set_level((enum log_level)(LOG_WARN + opts.verbosity));
	if (opts.log_file && (errno = -log_open_file(opts.log_file))) {
		fprintf(stderr, "vireo: error: --log-file: cannot open '%s': %s\n", opts.log_file,
			strerror(errno));
		goto out;
	}
	if (config_validate(&cfg, err, sizeof(err))) {
		fprintf(stderr, "vireo: error: %s\n", err);
		goto out;
	}
	persist.serial_out_fd = open_serial_output(&cfg.serial);
	if (persist.serial_out_fd < 0 && cfg.serial.mode == CONSOLE_FILE) {
		fprintf(stderr, "vireo: error: --serial: cannot open '%s': %s\n", cfg.serial.file,
			strerror(errno));
		goto out;
	}
	signal_fd = setup_signals();
	if (signal_fd < 0) {
		fprintf(stderr, "vireo: error: cannot set up signal handling: %s\n", strerror(errno));
		goto out;
	}
	if (cfg.serial.mode == CONSOLE_TTY)
		terminal_raw(&term);
	ret = run_vm(&cfg, &persist, signal_fd);
	terminal_restore(&term);
	close(signal_fd);
out:
	if (persist.serial_out_fd >= 0)
		close(persist.serial_out_fd);
	config_free(&cfg);
	vmm_options_free(&opts);
	log_close_file();
	return ret;
}
