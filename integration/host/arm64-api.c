// SPDX-License-Identifier: Apache-2.0
/*
 * arm64-api SOCKET METHOD NAME [BODY]: one REST call to vireo (/api/v1/NAME) from the nested
 * arm64 host, which has busybox but no curl or python (integration/host/arm64-api-test.sh).
 * Prints "STATUS BODY" on one line; exits 0 when the status is 2xx, 1 otherwise, 2 on no answer.
 */
#include <stdio.h>
#include <string.h>

#include "tests/api/http_client.h"

int main(int argc, char **argv)
{
	struct http_resp r;
	char url[256];
	int ret;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: arm64-api SOCKET METHOD NAME [BODY]\n");
		return 2;
	}
	snprintf(url, sizeof(url), "/api/v1/%s", argv[3]);
	ret = http_call(argv[1], argv[2], url, argc == 5 ? argv[4] : NULL, &r);
	if (ret) {
		printf("0 %s\n", strerror(-ret));
		return 2;
	}
	printf("%d %s\n", r.status, r.body ? r.body : "");
	ret = r.status >= 200 && r.status < 300 ? 0 : 1;
	http_resp_free(&r);
	return ret;
}
