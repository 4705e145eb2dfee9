/*
** ofd/emulator/http_reply.c: the JSON answers every route of kassa-operator's
** HTTP port sends (see http_reply.h).
*/
#include "ofd/emulator/http_reply.h"

#include <stdlib.h>
#include <string.h>

enum MHD_Result http_send_json(struct MHD_Connection *conn, unsigned status, json_t *j)
{
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return http_send_text(conn, status, text);
}

enum MHD_Result http_send_text(struct MHD_Connection *conn, unsigned status, char *text)
{
  struct MHD_Response *r;
  enum MHD_Result ret;
  if (!text) {
    static char oom[] = "{\"code\":500,\"description\":\"out of memory\",\"error\":\"memory\"}";
    r = MHD_create_response_from_buffer(sizeof oom - 1, oom, MHD_RESPMEM_PERSISTENT);
    status = 500;
  } else {
    r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  }
  if (!r) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "application/json");
  ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}
