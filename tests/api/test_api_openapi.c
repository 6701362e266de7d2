// SPDX-License-Identifier: Apache-2.0
/*
 * docs/openapi.yaml and the router must list the same routes with the same methods: every
 * "  /name:" key under "paths:" followed by its "get:"/"put:" operations, against
 * api_route_path()/api_route_method().
 */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

#define MAX_PATHS 64

struct op {
	char path[96], method[8];
	bool matched;
};

static unsigned read_ops(FILE *f, struct op *ops)
{
	regex_t path_re, op_re;
	regmatch_t m[2];
	char line[512], cur[96] = "";
	bool in_paths = false;
	unsigned n = 0;

	regcomp(&path_re, "^  (/[A-Za-z0-9._-]+):[[:space:]]*$", REG_EXTENDED);
	regcomp(&op_re, "^    (get|put|post|delete|patch):[[:space:]]*$", REG_EXTENDED);
	while (fgets(line, sizeof(line), f) && n < MAX_PATHS) {
		if (!strncmp(line, "paths:", 6)) {
			in_paths = true;
			continue;
		}
		if (in_paths && line[0] != ' ' && line[0] != '\n' && line[0] != '#')
			in_paths = false;
		if (!in_paths)
			continue;
		if (!regexec(&path_re, line, 2, m, 0)) {
			snprintf(cur, sizeof(cur), "/api/v1%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
		} else if (*cur && !regexec(&op_re, line, 2, m, 0)) {
			snprintf(ops[n].path, sizeof(ops[n].path), "%s", cur);
			for (int i = 0; i < m[1].rm_eo - m[1].rm_so && i < 7; i++)
				ops[n].method[i] = (char)(line[m[1].rm_so + i] - 'a' + 'A');
			n++;
		}
	}
	regfree(&path_re);
	regfree(&op_re);
	return n;
}

int main(int argc, char **argv)
{
	struct op ops[MAX_PATHS] = { 0 };
	FILE *f = argc == 2 ? fopen(argv[1], "r") : NULL;
	unsigned n, bad = 0;

	if (!f) {
		fprintf(stderr, "usage: %s docs/openapi.yaml\n", argv[0]);
		return 1;
	}
	n = read_ops(f, ops);
	fclose(f);
	for (unsigned i = 0; api_route_path(i); i++) {
		bool found = false;

		for (unsigned j = 0; j < n; j++) {
			if (!strcmp(ops[j].path, api_route_path(i)) &&
			    !strcmp(ops[j].method, api_route_method(i))) {
				ops[j].matched = found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "route %s %s is missing from openapi.yaml\n",
				api_route_method(i), api_route_path(i));
			bad++;
		}
	}
	for (unsigned j = 0; j < n; j++) {
		if (!ops[j].matched) {
			fprintf(stderr, "openapi.yaml has %s %s, which the router lacks\n",
				ops[j].method, ops[j].path);
			bad++;
		}
	}
	printf("%u operations in openapi.yaml, %u mismatches\n", n, bad);
	return bad || !n ? 1 : 0;
}
