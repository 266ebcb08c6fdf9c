/*
 * The host side of consolidation on built cluster states: candidates per
 * method within budgets, and the strategy plugins deciding through
 * nw__consolidation_simulate over the real scheduling core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disruption/consolidation.h"
#include "fixture.h"
#include "kube/kutil.h"
#include "nwtest.h"
#include "plugin/loader.h"
#include "util/arena.h"

/* Candidates for `method`, then the strategy's decision through the
 * real scheduler.  Returns the number of commands (0 or 1). */
static size_t decide(cluster *c, nw__plugin *p, nw_consolidation_method method,
                     nw__candidate_set *cs, nw_command **cmd,
                     size_t *solves) {
  nw_error err = {0, ""};
  CU_ASSERT_EQUAL_FATAL(nw__consolidation_candidates(&c->st, method, c->a, cs, &err), 0);
  nw__scheduler *s = nw__scheduler_new(&c->in, &err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  nw__consolidation_sim sim = {&c->st, cs, s, 0};
  nw_consolidation_input in = {
      .size = sizeof(in), .method = method, .n_candidates = cs->n,
      .candidates = cs->items, .simulate = nw__consolidation_simulate,
      .sim_ctx = &sim, .max_candidates = 100, .spot_to_spot = 0,
      .min_spot_types = 15};
  size_t n = 0;
  CU_ASSERT_EQUAL(nw__plugin_strategy(p)->compute(nw__plugin_state(p), &in, c->a,
                                                  cmd, &n, &err), NW_OK);
  if (solves)
    *solves = sim.solves;
  nw__scheduler_free(s);
  return n;
}

/* ---- tests --------------------------------------------------------- */

static int has_skip(const nw__candidate_set *cs, const char *needle) {
  for (size_t i = 0; i < cs->n_skipped; i++) {
    if (strstr(cs->skipped[i], needle))
      return 1;
  }
  return 0;
}

static void test_empty_nodes_within_budget(void) {
  const tnode nodes[] = {
      {"e1", "c8", 0, {0}, 0, 0}, {"e2", "c4", 0, {0}, 0, 0},
      {"e3", "c8", 0, {0}, 0, 0}, {"busy", "c8", 2, {0}, 0, 0},
  };
  cluster c;
  nw__candidate_set cs;
  nw_command *cmd = NULL;
  build(&c, "[{\"nodes\":\"2\"}]", nodes, 4, NULL);
  CU_ASSERT_EQUAL(decide(&c, g_default, NW_METHOD_EMPTINESS, &cs, &cmd, NULL), 1);
  /* Three empty nodes, a budget of two. */
  CU_ASSERT_EQUAL(cs.n, 2);
  CU_ASSERT_TRUE(cs.constrained_by_budget);
  CU_ASSERT_EQUAL_FATAL(cmd[0].n_candidates, 2);
  CU_ASSERT_EQUAL(cmd[0].kind, NW_COMMAND_DELETE);
  for (size_t i = 0; i < 2; i++)
    CU_ASSERT_EQUAL(cs.items[cmd[0].candidates[i]].n_pods, 0);
  teardown_cluster(&c);

  /* 50% of 4 nodes, one already deleting: one more. */
  const tnode deleting[] = {
      {"e1", "c8", 0, {0}, 0, 0}, {"e2", "c4", 0, {0}, 0, 0},
      {"e3", "c8", 0, {0}, 0, 0},
      {"gone", "c8", 1, {0}, 0, 0},
  };
  build(&c, "[{\"nodes\":\"50%\"}]", deleting, 4, NULL);
  json_object_set_new(json_object_get((json_t *)c.claims[3], "metadata"),
                      "deletionTimestamp", json_string(NOW));
  CU_ASSERT_EQUAL(decide(&c, g_default, NW_METHOD_EMPTINESS, &cs, &cmd, NULL), 1);
  CU_ASSERT_EQUAL(cs.n, 1);
  teardown_cluster(&c);
}

static void test_blocked_candidates(void) {
  const tnode nodes[] = {
      {"dnd", "c8", 1, {",\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"true\"}"}, 0, 0},
      /* Started an hour ago with a 2h window: still protected. */
      {"dnd-dur", "c8", 1, {",\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"2h\"}"}, 0, 0},
      /* 30m window long over. */
      {"dnd-over", "c8", 1, {",\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"30m\"}"}, 0, 0},
      {"node-ann", "c8", 1, {0}, 0, "{\"karpenter.sh/do-not-disrupt\":\"true\"}"},
      {"pdb", "c8", 1, {",\"namespace\":\"guarded\""}, 0, 0},
      /* A pod event 10 s ago: consolidateAfter (30 s) has not passed. */
      {"fresh", "c8", 1, {0}, ",\"lastPodEventTime\":\"2026-11-27T11:59:50Z\"", 0},
      {"ok", "c8", 1, {0}, 0, 0},
  };
  cluster c;
  nw__candidate_set cs;
  nw_error err = {0, ""};
  build(&c, "[{\"nodes\":\"100%\"}]", nodes, 7,
        "[{\"metadata\":{\"namespace\":\"guarded\",\"name\":\"keep-one\"},"
        "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}},"
        "\"status\":{\"disruptionsAllowed\":0}}]");
  CU_ASSERT_EQUAL_FATAL(nw__consolidation_candidates(&c.st, NW_METHOD_SINGLE_NODE,
                                                     c.a, &cs, &err), 0);
  CU_ASSERT_EQUAL_FATAL(cs.n, 2);
  CU_ASSERT_STRING_EQUAL(cs.items[0].node_name, "dnd-over");
  CU_ASSERT_STRING_EQUAL(cs.items[1].node_name, "ok");
  CU_ASSERT_TRUE(has_skip(&cs, "node dnd: pod app/dnd-p0 has karpenter.sh/do-not-disrupt"));
  CU_ASSERT_TRUE(has_skip(&cs, "node dnd-dur: pod"));
  CU_ASSERT_TRUE(has_skip(&cs, "node node-ann: disruption is blocked"));
  CU_ASSERT_TRUE(has_skip(&cs, "PodDisruptionBudget keep-one"));
  CU_ASSERT_FALSE(has_skip(&cs, "node fresh"));
  teardown_cluster(&c);
}

static void test_drift_candidates(void) {
  const tnode nodes[] = {
      {"drifted", "c8", 1, {0}, 0, 0},
      {"current", "c8", 1, {0}, 0, 0},
  };
  cluster c;
  nw__candidate_set cs;
  nw_error err = {0, ""};
  build(&c, NULL, nodes, 2, NULL);
  json_t *claim = (json_t *)c.claims[0];
  json_array_append_new(json_object_get(json_object_get(claim, "status"), "conditions"),
                        json_pack("{s:s, s:s}", "type", "Drifted", "status", "True"));
  CU_ASSERT_EQUAL_FATAL(nw__consolidation_candidates(&c.st, NW_METHOD_DRIFT, c.a,
                                                     &cs, &err), 0);
  CU_ASSERT_EQUAL_FATAL(cs.n, 1);
  CU_ASSERT_STRING_EQUAL(cs.items[0].node_name, "drifted");
  teardown_cluster(&c);
}

/* Three c8 nodes at half (two 2-cpu pods each): one c16 takes all six. */
static void test_three_half_empty_to_one(void) {
  const tnode nodes[] = {
      {"a", "c8", 2, {0}, 0, 0}, {"b", "c8", 2, {0}, 0, 0}, {"c", "c8", 2, {0}, 0, 0},
  };
  cluster c;
  nw__candidate_set cs;
  nw_command *cmd = NULL;
  size_t solves = 0;
  build(&c, "[{\"nodes\":\"100%\"}]", nodes, 3, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, g_default, NW_METHOD_MULTI_NODE, &cs, &cmd, &solves), 1);
  CU_ASSERT_EQUAL(cmd[0].kind, NW_COMMAND_REPLACE);
  CU_ASSERT_EQUAL(cmd[0].n_candidates, 3);
  CU_ASSERT_STRING_EQUAL(cmd[0].result.replacements[0].instance_types[0], "c16");
  CU_ASSERT_DOUBLE_EQUAL(cmd[0].savings_per_hour, 0.8, 1e-9);
  CU_ASSERT_EQUAL(solves, 2);
  /* Balanced takes two nodes to one c4 instead (docs/disruption.md). */
  CU_ASSERT_EQUAL_FATAL(decide(&c, g_balanced, NW_METHOD_MULTI_NODE, &cs, &cmd, NULL), 1);
  CU_ASSERT_EQUAL(cmd[0].n_candidates, 2);
  CU_ASSERT_STRING_EQUAL(cmd[0].result.replacements[0].instance_types[0], "c4");
  teardown_cluster(&c);
}

static void test_single_replace_and_delete(void) {
  /* A c8 with one 2-cpu pod and nowhere else to go: a c4 is cheaper. */
  const tnode lone[] = {{"big", "c8", 1, {0}, 0, 0}};
  cluster c;
  nw__candidate_set cs;
  nw_command *cmd = NULL;
  build(&c, NULL, lone, 1, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, g_default, NW_METHOD_SINGLE_NODE, &cs, &cmd, NULL), 1);
  CU_ASSERT_EQUAL(cmd[0].kind, NW_COMMAND_REPLACE);
  const nw_replacement *rep = &cmd[0].result.replacements[0];
  CU_ASSERT_EQUAL(rep->n_instance_types, 1);
  CU_ASSERT_STRING_EQUAL(rep->instance_types[0], "c4");
  CU_ASSERT_DOUBLE_EQUAL(rep->prices[0], 0.40, 1e-9);
  CU_ASSERT_STRING_EQUAL(rep->capacity_types[0], NW_CAPACITY_ON_DEMAND);
  teardown_cluster(&c);

  /* Already the cheapest type: nothing to do. */
  const tnode small[] = {{"small", "c4", 1, {0}, 0, 0}};
  build(&c, NULL, small, 1, NULL);
  CU_ASSERT_EQUAL(decide(&c, g_default, NW_METHOD_SINGLE_NODE, &cs, &cmd, NULL), 0);
  teardown_cluster(&c);

  /* Its pod fits on another node: delete. */
  const tnode two[] = {{"spare", "c8", 1, {0}, 0, 0}, {"other", "c8", 2, {0}, 0, 0}};
  build(&c, NULL, two, 2, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, g_default, NW_METHOD_SINGLE_NODE, &cs, &cmd, NULL), 1);
  CU_ASSERT_EQUAL(cmd[0].kind, NW_COMMAND_DELETE);
  CU_ASSERT_STRING_EQUAL(cs.items[cmd[0].candidates[0]].node_name, "spare");
  teardown_cluster(&c);
}

/* Pending pods compete for the room a move would use. */
static void test_pending_pods_keep_capacity(void) {
  const tnode two[] = {{"spare", "c8", 1, {0}, 0, 0}, {"other", "c8", 2, {0}, 0, 0}};
  cluster c;
  nw__candidate_set cs;
  nw_command *cmd = NULL;
  nw_error err = {0, ""};
  build(&c, NULL, two, 2, NULL);
  const nw__pod *pending[2];
  for (int i = 0; i < 2; i++) {
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"namespace\":\"app\",\"name\":\"pending-%d\"},"
             "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":"
             "{\"cpu\":\"2\"}}}]},\"status\":{\"phase\":\"Pending\"}}", i);
    pending[i] = nw__pod_decode(keep(&c, buf), c.a, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pending[i]);
  }
  c.st.pending = pending;
  c.st.n_pending = 2;
  /* Without pending pods "spare"'s pod fits on "other" (4 cpu free) and
   * spare is deleted.  The pending pods take that room first, so spare's
   * pod needs a new node: at best a replacement by a c4, never a delete. */
  CU_ASSERT_EQUAL_FATAL(decide(&c, g_default, NW_METHOD_SINGLE_NODE, &cs, &cmd, NULL), 1);
  CU_ASSERT_NOT_EQUAL(cmd[0].kind, NW_COMMAND_DELETE);
  teardown_cluster(&c);
}

/* Nodes the caller did not price are priced from their pool's offerings;
 * one whose offering is unknown is no consolidation candidate. */
static void test_candidate_prices(void) {
  const tnode nodes[] = {{"a", "c8", 1, {0}, 0, 0}, {"b", "c16", 1, {0}, 0, 0},
                         {"lost", "c8", 1, {0}, 0, 0}};
  cluster c;
  nw__candidate_set cs;
  nw_error err = {0, ""};
  build(&c, "[{\"nodes\":\"100%\"}]", nodes, 3, NULL);
  for (size_t i = 0; i < 3; i++)
    c.nodes[i].price = 0;
  /* "lost" says it runs in a zone its type is not offered in. */
  nw_kv *kv = (nw_kv *)c.nodes[2].node->labels.items;
  for (size_t i = 0; i < c.nodes[2].node->labels.len; i++) {
    if (strcmp(kv[i].key, "topology.kubernetes.io/zone") == 0)
      kv[i].value = "z9";
  }
  nw__node_derive((nw__node *)c.nodes[2].node);
  CU_ASSERT_EQUAL_FATAL(nw__consolidation_candidates(&c.st, NW_METHOD_SINGLE_NODE,
                                                     c.a, &cs, &err), 0);
  CU_ASSERT_EQUAL_FATAL(cs.n, 2);
  CU_ASSERT_DOUBLE_EQUAL(cs.items[0].price, 0.80, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(cs.items[1].price, 1.60, 1e-9);
  CU_ASSERT_TRUE(has_skip(&cs, "node lost: no price for its offering (c8 in z9, on-demand)"));
  teardown_cluster(&c);
}

/* A node being deleted is no room, and its pods need a place first. */
static void test_leaving_nodes_are_no_room(void) {
  const tnode nodes[] = {{"spare", "c8", 1, {0}, 0, 0},
                         {"other", "c8", 2, {0}, 0, 0},
                         {"leaving", "c8", 2, {0}, 0, 0}};
  cluster c;
  nw__candidate_set cs;
  nw_command *cmd = NULL;
  build(&c, NULL, nodes, 2, NULL);
  /* Without the leaving node: spare's pod fits on other. */
  CU_ASSERT_EQUAL_FATAL(decide(&c, g_default, NW_METHOD_SINGLE_NODE, &cs, &cmd, NULL), 1);
  CU_ASSERT_EQUAL(cmd[0].kind, NW_COMMAND_DELETE);
  teardown_cluster(&c);

  /* 100%: the leaving node counts against the budget (3 - 1 = 2). */
  build(&c, "[{\"nodes\":\"100%\"}]", nodes, 3, NULL);
  json_object_set_new(json_object_get((json_t *)c.claims[2], "metadata"),
                      "deletionTimestamp", json_string(NOW));
  /* leaving's two pods take other's room (and leaving's own is gone), so
   * spare's pod needs a new node: a replace by a c4, not a delete. */
  CU_ASSERT_EQUAL_FATAL(decide(&c, g_default, NW_METHOD_SINGLE_NODE, &cs, &cmd, NULL), 1);
  CU_ASSERT_EQUAL(cmd[0].kind, NW_COMMAND_REPLACE);
  CU_ASSERT_STRING_EQUAL(cs.items[cmd[0].candidates[0]].node_name, "spare");
  teardown_cluster(&c);
}

/* DaemonSet pods stay with their node: they neither block a move nor
 * need a place (every real node has some). */
static void test_daemonset_pods_stay(void) {
#define DS ",\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"proxy\",\"controller\":true}]"
  const tnode nodes[] = {{"spare", "c8", 2, {DS, ""}, 0, 0},
                         {"other", "c8", 3, {DS, "", ""}, 0, 0}};
#undef DS
  cluster c;
  nw__candidate_set cs;
  nw_command *cmd = NULL;
  build(&c, "[{\"nodes\":\"100%\"}]", nodes, 2, NULL);
  CU_ASSERT_EQUAL_FATAL(decide(&c, g_default, NW_METHOD_SINGLE_NODE, &cs, &cmd, NULL), 1);
  CU_ASSERT_EQUAL(cmd[0].kind, NW_COMMAND_DELETE);
  CU_ASSERT_STRING_EQUAL(cs.items[cmd[0].candidates[0]].node_name, "spare");
  /* Only the reschedulable pod counts. */
  CU_ASSERT_EQUAL(cs.items[cmd[0].candidates[0]].n_pods, 1);
  teardown_cluster(&c);
}

NW_TEST_CASES({"empty_nodes_within_budget", test_empty_nodes_within_budget},
              {"daemonset_pods_stay", test_daemonset_pods_stay},
              {"leaving_nodes_are_no_room", test_leaving_nodes_are_no_room},
              {"candidate_prices", test_candidate_prices},
              {"blocked_candidates", test_blocked_candidates},
              {"drift_candidates", test_drift_candidates},
              {"three_half_empty_to_one", test_three_half_empty_to_one},
              {"single_replace_and_delete", test_single_replace_and_delete},
              {"pending_pods_keep_capacity", test_pending_pods_keep_capacity});
NW_TEST_MAIN("consolidation", setup, teardown);
