// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/api/api_fixture.h"

struct api_fixture *fx;

int fx_start(struct api_fixture *f)
{
	struct api_socket_spec spec = { .path = f->sock, .fd = -1 };
	char err[256];

	if (api_server_start(&spec, &f->srv, err, sizeof(err))) {
		fprintf(stderr, "api_server_start: %s\n", err);
		return -1;
	}
	return fake_vmm_start(&f->vmm, f->srv);
}

int fx_setup(void **state)
{
	fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vireo-api-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->sock, sizeof(fx->sock), "%s/api.sock", fx->dir);
	*state = fx;
	return fx_start(fx);
}

int fx_teardown(void **state)
{
	char lock[128];

	(void)state;
	fake_vmm_stop(&fx->vmm);
	api_server_stop(fx->srv);
	snprintf(lock, sizeof(lock), "%s.lock", fx->sock);
	unlink(lock);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

int fx_call(const char *method, const char *name, const char *body, struct http_resp *r)
{
	char url[128];

	snprintf(url, sizeof(url), "/api/v1/%s", name);
	return http_call(fx->sock, method, url, body, r);
}

int fx_status_of(const char *method, const char *name, const char *body)
{
	struct http_resp r;
	int st;

	assert_int_equal(fx_call(method, name, body, &r), 0);
	st = r.status;
	if (st >= 400)
		assert_true(r.body_len > 2 && r.body[0] == '[' && r.body[r.body_len - 1] == ']');
	http_resp_free(&r);
	return st;
}

void fx_assert_alive(void)
{
	assert_int_equal(fx_status_of("GET", "vmm.ping", NULL), 200);
}

void fx_expect(const char *method, const char *name, const char *body, int status,
	       const char *in_body)
{
	struct http_resp r;

	assert_int_equal(fx_call(method, name, body, &r), 0);
	if (r.status != status || (in_body && !strstr(r.body, in_body)))
		fail_msg("%s %s: %d %s (wanted %d, '%s')", method, name, r.status, r.body, status,
			 in_body ? in_body : "");
	if (status == 204)
		assert_null(strstr(r.head, "Content-Length"));
	http_resp_free(&r);
}

int fx_send_only(const char *method, const char *name)
{
	char req[256];
	int fd = http_connect(fx->sock);

	assert_true(fd >= 0);
	snprintf(req, sizeof(req), "%s /api/v1/%s HTTP/1.1\r\nHost: x\r\n\r\n", method, name);
	assert_int_equal(http_send(fd, req, strlen(req)), 0);
	return fd;
}
