/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server on a socket in a fresh temporary directory, with the fake VMM thread behind
 * it, for the cmocka tests that talk HTTP to it (test_api_server.c, test_api_strict.c,
 * test_api_slow.c). One fixture per test group: fx.
 */
#ifndef VIREO_TESTS_API_FIXTURE_H
#define VIREO_TESTS_API_FIXTURE_H

#include "api/api.h"
#include "tests/api/fake_vmm.h"
#include "tests/api/http_client.h"

struct api_fixture {
	char dir[64], sock[96];
	struct api_server *srv;
	struct fake_vmm vmm;
};

extern struct api_fixture *fx;

/* cmocka group setup/teardown: the directory, the server and the fake VMM. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Starts the server and the fake VMM on fx->sock (again, after a stop); 0 or -1. */
int fx_start(struct api_fixture *f);

/* One request on a fresh connection to /api/v1/@name; 0 or -errno. */
int fx_call(const char *method, const char *name, const char *body, struct http_resp *r);
/* The status of one call; an error body must be CH's JSON array. */
int fx_status_of(const char *method, const char *name, const char *body);
/* The call answers @status and its body holds @in_body (NULL: anything). */
void fx_expect(const char *method, const char *name, const char *body, int status,
	       const char *in_body);
/* vmm.ping answers 200 on a new connection. */
void fx_assert_alive(void);
/* Sends "@method /api/v1/@name" without a body on a new connection; returns the socket. */
int fx_send_only(const char *method, const char *name);

#endif
