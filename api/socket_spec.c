// SPDX-License-Identifier: Apache-2.0
/* --api-socket's argument, as CH's parse_api_socket (cloud-hypervisor/src/main.rs) reads it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int api_parse_socket_spec(const char *arg, struct api_socket_spec *out)
{
	const char *path = NULL, *fd = NULL;
	char *copy = strdup(arg), *save = NULL, *item;
	bool keyed = true;
	long n;

	out->path = NULL;
	out->fd = -1;
	if (!copy)
		return -ENOMEM;
	/* CH's parse_api_socket: path=/fd= options, or else the whole argument is the path. */
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!strncmp(item, "path=", 5))
			path = arg + (item - copy) + 5;
		else if (!strncmp(item, "fd=", 3))
			fd = item + 3;
		else
			keyed = false;
	}
	if (keyed && fd) {
		char *end;

		bool bad;

		errno = 0;
		n = strtol(fd, &end, 10);
		bad = errno || *end || end == fd || n < 0 || n > INT32_MAX;
		free(copy);
		if (bad)
			return -EINVAL;
		out->fd = (int)n;
		return 0;
	}
	out->path = strdup(keyed && path ? path : arg);
	if (out->path && keyed && path)
		out->path[strcspn(out->path, ",")] = '\0';
	free(copy);
	if (!out->path)
		return -ENOMEM;
	if (!*out->path) {
		api_socket_spec_free(out);
		return -EINVAL;
	}
	return 0;
}

void api_socket_spec_free(struct api_socket_spec *spec)
{
	free(spec->path);
	spec->path = NULL;
	spec->fd = -1;
}
