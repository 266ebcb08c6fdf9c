/* Private to nw_awscore: pieces shared between its source files. */
#ifndef NW_AWSCORE_INTERNAL_H
#define NW_AWSCORE_INTERNAL_H

#include "awscore.h"

/* GET (or PUT for the token) against IMDSv2 at AWS_EC2_METADATA_SERVICE_ENDPOINT
 * or http://169.254.169.254: fetches a session token, then `path`
 * ("/latest/meta-data/placement/region").  On NW_OK *body points into the
 * arena.  NW_ERR_NOT_FOUND when IMDS is disabled or unreachable. */
nw_status aws__imds_get(const nw_aws_env *env, const char *path,
                        nw_arena *arena, const char **body, nw_error *err);

/* Reads a small file (token files) into a heap string with trailing
 * whitespace removed; NULL with errno set on failure. */
char *aws__read_small_file(const char *path, size_t max);

/* Sends one HTTP request through env->http with optional SigV4 signing
 * (creds NULL = unsigned).  `url` is the endpoint base plus path; `headers`
 * are extra headers (Content-Type, X-Amz-Target).  Host and X-Amz-Date are
 * added here. */
nw_status aws__send(const nw_aws_env *env, const nw_aws_credentials *creds,
                    const char *region, const char *signing_name,
                    const char *method, const char *url,
                    const nw_http_header *headers, size_t n_headers,
                    const char *body, size_t body_len, int64_t timeout_ms,
                    size_t max_bytes, nw_arena *arena, nw_http_response *resp,
                    nw_error *err);

/* Parses an AWS Query-protocol error body into fault->code and a message
 * (heap, caller frees; NULL when the body is not an AWS error). */
char *aws__query_error(const nw_http_response *resp, nw_aws_fault *fault);

/* Logs through env->log when set. */
void aws__log(const nw_aws_env *env, nw_log_level level, const char *fmt, ...)
    NW_PRINTF_LIKE(3, 4);

#endif
