// SPDX-License-Identifier: Apache-2.0
/* --api-socket's argument, as CH's parse_api_socket (cloud-hypervisor/src/main.rs) reads it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* A non-negative decimal int; -EINVAL otherwise. */
static int parse_fd(const char *s, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || end == s || n < 0 || n > INT32_MAX)
		return -EINVAL;
	*out = (int)n;
	return 0;
}

/* mode=: octal, the owner's rw kept, only rw bits added (a socket has no use for x or suid). */
static int parse_mode(const char *s, unsigned *out)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(s, &end, 8);
	if (errno || *end || end == s || *s == '-' || (m & ~0666ul) ||
	    (m & API_SOCKET_MODE) != API_SOCKET_MODE)
		return -EINVAL;
	*out = (unsigned)m;
	return 0;
}

int api_parse_socket_spec(const char *arg, struct api_socket_spec *out)
{
	const char *path = NULL, *fd = NULL, *mode = NULL;
	char *copy = strdup(arg), *save = NULL, *item;
	bool keyed = true;
	int ret = 0;

	*out = (struct api_socket_spec){ .fd = -1 };
	if (!copy)
		return -ENOMEM;
	/* CH's parse_api_socket: path=/fd= options, or else the whole argument is the path. */
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!strncmp(item, "path=", 5))
			path = arg + (item - copy) + 5;
		else if (!strncmp(item, "fd=", 3))
			fd = item + 3;
		else if (!strncmp(item, "mode=", 5))
			mode = item + 5;
		else
			keyed = false;
	}
	if (keyed && fd)
		ret = mode ? -EINVAL : parse_fd(fd, &out->fd);
	else if (keyed && mode && (!path || parse_mode(mode, &out->mode)))
		ret = -EINVAL;
	else if (!(out->path = strndup(keyed && path ? path : arg,
				       keyed && path ? strcspn(path, ",") : strlen(arg))))
		ret = -ENOMEM;
	else if (!*out->path)
		ret = -EINVAL;
	free(copy);
	if (ret)
		api_socket_spec_free(out);
	return ret;
}

void api_socket_spec_free(struct api_socket_spec *spec)
{
	free(spec->path);
	*spec = (struct api_socket_spec){ .fd = -1 };
}
