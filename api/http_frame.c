// SPDX-License-Identifier: Apache-2.0
/*
 * Request framing, checked on the head before any body is read. libmicrohttpd 0.9.75 reads
 * a body by the first Content-Length it finds, lets Transfer-Encoding win over Content-Length
 * without closing afterwards, reads a non-chunked Transfer-Encoding until the connection
 * ends, and files "Content-Length :" under another name. Each of those lets the bytes after a
 * body be taken for the next request (request smuggling); RFC 9112 asks for 400 and a closed
 * connection instead, which the server gives for every reason returned here.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "api/api_internal.h"

struct head_scan {
	unsigned lengths, codings;
	const char *coding;
	bool bad_name;
};

/* RFC 9110 5.6.2: a field name is a token of tchars. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct head_scan *hs = cls;

	(void)kind;
	/* RFC 9112 5.1: whitespace between a name and its colon is a 400, never trimmed. */
	hs->bad_name |= !*key;
	for (const char *p = key; *p; p++)
		hs->bad_name |= !is_tchar(*p);
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
		hs->lengths++;
	if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		hs->codings++;
		hs->coding = value;
	}
	return MHD_YES;
}

const char *api_http_framing_error(struct MHD_Connection *c, const char *version)
{
	struct head_scan hs = { 0 };

	MHD_get_connection_values(c, MHD_HEADER_KIND, scan_field, &hs);
	if (hs.bad_name)
		return "invalid header field name";
	/* RFC 9112 6.3 item 3: both could mean smuggling; the server must close after it. */
	if (hs.lengths && hs.codings)
		return "Content-Length and Transfer-Encoding in one request";
	/* RFC 9112 6.3 item 5 and RFC 9110 8.6: one length, or the framing is invalid. */
	if (hs.lengths > 1)
		return "more than one Content-Length";
	/*
	 * RFC 9112 6.1, 6.3 item 4 and 7: chunked must be the final coding and applied once;
	 * vireo knows no other coding, so a single "chunked" is the only one it takes.
	 */
	if (hs.codings > 1 || (hs.codings && strcasecmp(hs.coding, "chunked")))
		return "Transfer-Encoding other than a single chunked";
	/* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing. */
	if (hs.codings && !strcmp(version, MHD_HTTP_VERSION_1_0))
		return "Transfer-Encoding in an HTTP/1.0 request";
	return NULL;
}
