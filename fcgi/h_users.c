/* Registration handlers: POST /users/code and POST /users/regist (alias /users/register). */
#include <string.h>

#include <json-c/json.h>

#include "appd.h"
#include "user.h"

/*
 * POST /users/code {"phone"}
 *   200 {"expires_in": <ttl>}
 *   400 invalid_json, missing_field, invalid_phone (front line)
 *   429 rate_limited + Retry-After (same phone too soon, or address cap)
 *   503 unavailable (database down, or the SMS could not be delivered)
 */
enum app_err
h_code(struct ctx *c, struct req *rq, struct resp *rs)
{
	struct json_object	*data;
	const char		*phone;
	size_t			 len;
	long			 retry = 0;
	enum app_err		 e;

	(void)req_field(rq, "phone", &phone, &len);
	e = user_request_code(c->store, c->sms, c->cfg, phone,
	    rq->remote_addr, &retry);
	if (e == APP_E_RATE_LIMITED)
		resp_header(rs, "Retry-After", "%ld", retry);
	if (e != APP_OK)
		return e;
	data = json_object_new_object();
	json_object_object_add(data, "expires_in",
	    json_object_new_int64(c->cfg->code_ttl));
	resp_ok(rs, 200, data);
	return APP_OK;
}

/*
 * POST /users/regist, /users/register {"phone", "password", "code"}
 *   201 {"user_id", "phone": masked}
 *   400 invalid_json, missing_field, invalid_phone, invalid_password,
 *       invalid_code
 *   409 phone_taken
 *   429 too_many_attempts (the code took too many wrong tries)
 *   503 unavailable
 */
enum app_err
h_regist(struct ctx *c, struct req *rq, struct resp *rs)
{
	struct json_object	*data;
	const char		*phone, *password, *code;
	char			 masked[USER_MASKED_LEN];
	size_t			 len, pwlen;
	long long		 uid = 0;
	enum app_err		 e;

	(void)req_field(rq, "phone", &phone, &len);
	(void)req_field(rq, "password", &password, &pwlen);
	(void)req_field(rq, "code", &code, &len);
	e = user_register(c->store, c->cfg, phone, password, pwlen, code,
	    &uid);
	if (e != APP_OK)
		return e;
	rq->uid = uid;
	user_mask_phone(phone, masked);
	data = json_object_new_object();
	json_object_object_add(data, "user_id", json_object_new_int64(uid));
	json_object_object_add(data, "phone", json_object_new_string(masked));
	resp_ok(rs, 201, data);
	return APP_OK;
}
