/*
 * The interruption queue: SQS (JSON protocol) long polling of EventBridge
 * messages, as Karpenter's interruption controller reads them.  Every
 * message is deleted once read -- malformed and unknown ones too, counted
 * -- so a poison message cannot block the queue.
 */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nw_status queue_url(aws_state *s, nw_arena *arena, char **out,
                           nw_error *err) {
  pthread_mutex_lock(&s->mu);
  *out = s->queue_url ? strdup(s->queue_url) : NULL;
  pthread_mutex_unlock(&s->mu);
  if (*out)
    return NW_OK;
  if (strncmp(s->queue, "http://", 7) == 0 ||
      strncmp(s->queue, "https://", 8) == 0) {
    *out = strdup(s->queue);
  } else {
    json_t *body = json_pack("{s:s}", "QueueName", s->queue);
    json_t *ans = NULL;
    nw_status st = nw_aws_json(s->client, "sqs", "AmazonSQS", "GetQueueUrl",
                               "1.0", body, arena, &ans, NULL, err);
    json_decref(body);
    if (st != NW_OK)
      return st;
    const char *u = json_string_value(json_object_get(ans, "QueueUrl"));
    *out = u ? strdup(u) : NULL;
    json_decref(ans);
    if (!*out)
      return nw_aws_error(err, NW_ERR_INVALID,
                          "sqs GetQueueUrl %s: answer has no QueueUrl",
                          s->queue);
  }
  pthread_mutex_lock(&s->mu);
  if (!s->queue_url)
    s->queue_url = strdup(*out);
  pthread_mutex_unlock(&s->mu);
  return NW_OK;
}

/* The zone of an instance: remembered from launches and lists, else asked
 * of EC2.  0 when the instance is unknown (not ours, or gone). */
static int zone_of(aws_state *s, const char *id, nw_arena *arena, char *zone,
                   size_t len) {
  int hit = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_instances && !hit; i++)
    if (strcmp(s->instances[i].id, id) == 0) {
      snprintf(zone, len, "%s", s->instances[i].zone);
      hit = 1;
    }
  pthread_mutex_unlock(&s->mu);
  if (hit)
    return 1;
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "InstanceId.1", id);
  xmlDocPtr doc = NULL;
  nw_error err = {0};
  nw_status st = nw_aws_query(s->client, "ec2", "DescribeInstances",
                              "2016-11-15", &p, arena, &doc, NULL, &err);
  nw_aws_params_free(&p);
  if (st != NW_OK)
    return 0;
  char *z = nw_aws_xml_text(
      xmlDocGetRootElement(doc),
      "reservationSet/item/instancesSet/item/placement/availabilityZone");
  xmlFreeDoc(doc);
  if (z && *z) {
    snprintf(zone, len, "%s", z);
    aws_remember_instance(s, id, z);
    hit = 1;
  }
  free(z);
  return hit;
}

static void delete_message(aws_state *s, const char *url, const char *handle,
                           nw_arena *arena) {
  json_t *body = json_pack("{s:s,s:s}", "QueueUrl", url, "ReceiptHandle", handle);
  json_t *ans = NULL;
  nw_error err = {0};
  if (nw_aws_json(s->client, "sqs", "AmazonSQS", "DeleteMessage", "1.0", body,
                  arena, &ans, NULL, &err) != NW_OK)
    s->host->log(s->h, NW_LOG_WARN, "interruption queue: %s", err.message);
  json_decref(body);
  json_decref(ans);
}

static void count(aws_state *s, const char *result) {
  char labels[64];
  snprintf(labels, sizeof(labels), "result=%s", result);
  s->host->counter_add(s->h, "aws_interruption_messages_total", labels, 1);
}

nw_status aws_poll_events(aws_state *s, int64_t wait_ms, size_t max,
                          nw_arena *arena, nw_provider_event **out,
                          size_t *n_out, nw_error *err) {
  *out = NULL;
  *n_out = 0;
  if (!s->queue || max == 0)
    return NW_OK;
  char *url = NULL;
  nw_status st = queue_url(s, arena, &url, err);
  if (st != NW_OK)
    return st;
  int64_t wait_s = wait_ms / 1000;
  if (wait_s > 20)
    wait_s = 20;
  if (wait_s < 0)
    wait_s = 0;
  json_t *body = json_pack("{s:s,s:I,s:I}", "QueueUrl", url,
                           "MaxNumberOfMessages", (json_int_t)(max < 10 ? max : 10),
                           "WaitTimeSeconds", (json_int_t)wait_s);
  json_t *ans = NULL;
  st = nw_aws_json(s->client, "sqs", "AmazonSQS", "ReceiveMessage", "1.0", body,
                   arena, &ans, NULL, err);
  json_decref(body);
  if (st != NW_OK) {
    free(url);
    return st;
  }
  json_t *msgs = json_object_get(ans, "Messages");
  size_t nm = json_array_size(msgs);
  nw_provider_event *evs =
      nm ? s->host->arena_alloc(arena, nm * 8 * sizeof(*evs)) : NULL;
  size_t n = 0;
  for (size_t i = 0; i < nm; i++) {
    json_t *m = json_array_get(msgs, i);
    const char *handle = json_string_value(json_object_get(m, "ReceiptHandle"));
    const char *text = json_string_value(json_object_get(m, "Body"));
    aws_event ev;
    nw_error perr = {0};
    int rc = aws_event_parse(text, &ev, &perr);
    if (rc < 0) {
      count(s, "malformed");
      s->host->log(s->h, NW_LOG_WARN, "interruption queue: dropped message: %s",
                   perr.message);
    } else if (rc == 0) {
      count(s, "ignored");
    } else {
      int used = 0;
      for (size_t k = 0; k < ev.n_instances && evs && n < nm * 8 && n < max; k++) {
        char zone[32];
        if (!zone_of(s, ev.instance_ids[k], arena, zone, sizeof(zone)))
          continue;
        char pid[96];
        snprintf(pid, sizeof(pid), "aws:///%s/%s", zone, ev.instance_ids[k]);
        evs[n++] = (nw_provider_event){
            .kind = ev.kind,
            .provider_id = s->host->arena_strdup(arena, pid),
            .state = ev.state[0] ? s->host->arena_strdup(arena, ev.state) : NULL,
            .time_ms = ev.time_ms,
            .detail = s->host->arena_strdup(arena, ev.detail)};
        used = 1;
      }
      count(s, used ? "handled" : "unknown_instance");
    }
    if (handle)
      delete_message(s, url, handle, arena);
  }
  json_decref(ans);
  free(url);
  *out = evs;
  *n_out = n;
  return NW_OK;
}
