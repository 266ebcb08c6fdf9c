/*
 * EC2, SSM: the catalog, node class resolution, launch templates,
 * CreateFleet, and instance lookups.
 */
#include "aws.h"

#include <strings.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define EC2_VERSION "2016-11-15"
#define TAG_NODEPOOL "karpenter.sh/nodepool"
#define TAG_CLAIM "karpenter.sh/nodeclaim"
#define TAG_NODECLASS "karpenter.k8s.aws/ec2nodeclass"
#define TAG_NODECLASS_HASH "karpenter.k8s.aws/ec2nodeclass-hash"
#define TAG_CLUSTER "karpenter.k8s.aws/cluster"
#define MAX_OVERRIDES 60

static const int64_t GIB = 1024 * 1024 * 1024;

/* ----------------------------------------------------------- helpers */

static char *adup(aws_state *s, nw_arena *a, const char *str) {
  return s->host->arena_strdup(a, str ? str : "");
}

static void add_filter(nw_aws_params *p, int *n, const char *name,
                       const char *const *values, size_t n_values) {
  (*n)++;
  nw_aws_params_addf(p, name, "Filter.%d.Name", *n);
  for (size_t i = 0; i < n_values; i++)
    nw_aws_params_addf(p, values[i], "Filter.%d.Value.%zu", *n, i + 1);
}

static void add_tag_filters(nw_aws_params *p, int *n,
                            const aws_selector_term *t) {
  for (size_t i = 0; i < t->n_tags; i++) {
    const char *v = t->tag_values[i];
    char name[320];
    if (strcmp(v, "*") == 0) {
      const char *k = t->tag_keys[i];
      add_filter(p, n, "tag-key", &k, 1);
    } else {
      snprintf(name, sizeof(name), "tag:%s", t->tag_keys[i]);
      add_filter(p, n, name, &v, 1);
    }
  }
}

static char *cluster_tag_key(aws_state *s) {
  nw_aws_buf b = {0};
  nw_aws_buf_printf(&b, "kubernetes.io/cluster/%s", s->cluster);
  return nw_aws_buf_take(&b);
}

/* ------------------------------------------------------------ catalog */

static void add_type_filter(aws_state *s, nw_aws_params *p, int *nf) {
  json_t *types = json_object_get(s->config, "instance_types");
  size_t n = json_array_size(types);
  if (n == 0)
    return;
  const char **vals = calloc(n, sizeof(*vals));
  size_t k = 0;
  for (size_t i = 0; vals && i < n; i++) {
    const char *v = json_string_value(json_array_get(types, i));
    if (v)
      vals[k++] = v;
  }
  if (k)
    add_filter(p, nf, "instance-type", vals, k);
  free(vals);
}

static nw_status paginate(aws_state *s, const char *action,
                          const char *max_results, nw_arena *arena,
                          aws_catalog *cat, nw_error *err) {
  char *token = NULL;
  nw_status st = NW_OK;
  for (int page = 0; page < 1000 && st == NW_OK; page++) {
    nw_aws_params p = {0};
    int nf = 0;
    nw_aws_params_add(&p, "MaxResults", max_results);
    if (strcmp(action, "DescribeInstanceTypeOfferings") == 0)
      nw_aws_params_add(&p, "LocationType", "availability-zone");
    add_type_filter(s, &p, &nf);
    if (token)
      nw_aws_params_add(&p, "NextToken", token);
    xmlDocPtr doc = NULL;
    st = nw_aws_query(s->client, "ec2", action, EC2_VERSION, &p, arena, &doc,
                      NULL, err);
    nw_aws_params_free(&p);
    free(token);
    token = NULL;
    if (st != NW_OK)
      break;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int rc = strcmp(action, "DescribeInstanceTypes") == 0
                 ? aws_catalog_add_page(cat, root, err)
                 : aws_catalog_add_offerings(cat, root, err);
    if (rc < 0)
      st = NW_ERR_INVALID;
    token = nw_aws_xml_text(root, "nextToken");
    xmlFreeDoc(doc);
    if (!token || !*token)
      break;
  }
  free(token);
  return st;
}

nw_status aws_catalog_refresh(aws_state *s, nw_arena *arena, nw_error *err) {
  int64_t now = s->host->monotonic_ms(s->h);
  pthread_mutex_lock(&s->mu);
  int fresh = s->catalog_at_ms && now - s->catalog_at_ms < s->catalog_ttl_ms;
  pthread_mutex_unlock(&s->mu);
  if (fresh)
    return NW_OK;
  aws_catalog cat = {0};
  nw_status st = paginate(s, "DescribeInstanceTypes", "100", arena, &cat, err);
  if (st == NW_OK)
    st = paginate(s, "DescribeInstanceTypeOfferings", "1000", arena, &cat, err);
  if (st != NW_OK) {
    aws_catalog_free(&cat);
    return st;
  }
  aws_catalog_sort(&cat);
  pthread_mutex_lock(&s->mu);
  aws_catalog_free(&s->catalog);
  s->catalog = cat;
  s->catalog_at_ms = now;
  pthread_mutex_unlock(&s->mu);
  s->host->gauge_set(s->h, "aws_instance_types", NULL, (double)cat.len);
  s->host->log(s->h, NW_LOG_INFO, "catalog: %zu instance types", cat.len);
  return NW_OK;
}

/* ------------------------------------------------- node class resolution */

static nw_status describe_subnets(aws_state *s, const aws_node_class *nc,
                                  nw_arena *arena, aws_resolved *out,
                                  nw_error *err) {
  for (size_t t = 0; t < nc->n_subnet_terms; t++) {
    const aws_selector_term *term = &nc->subnet_terms[t];
    nw_aws_params p = {0};
    int nf = 0;
    if (term->id)
      nw_aws_params_add(&p, "SubnetId.1", term->id);
    add_tag_filters(&p, &nf, term);
    xmlDocPtr doc = NULL;
    nw_status st = nw_aws_query(s->client, "ec2", "DescribeSubnets",
                                EC2_VERSION, &p, arena, &doc, NULL, err);
    nw_aws_params_free(&p);
    if (st != NW_OK)
      return st;
    xmlNodePtr set = nw_aws_xml_path(xmlDocGetRootElement(doc), "subnetSet");
    for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
         it = nw_aws_xml_next(it, "item")) {
      char *id = nw_aws_xml_text(it, "subnetId");
      char *zone = nw_aws_xml_text(it, "availabilityZone");
      int dup = 0;
      for (size_t i = 0; id && i < out->n_subnets; i++)
        dup |= strcmp(out->subnets[i].id, id) == 0;
      if (id && zone && !dup && out->n_subnets < 64) {
        aws_subnet *sn = &out->subnets[out->n_subnets++];
        snprintf(sn->id, sizeof(sn->id), "%s", id);
        snprintf(sn->zone, sizeof(sn->zone), "%s", zone);
        sn->free_ips = nw_aws_xml_int(it, "availableIpAddressCount", 0);
      }
      free(id);
      free(zone);
    }
    xmlFreeDoc(doc);
  }
  return NW_OK;
}

static nw_status describe_sgs(aws_state *s, const aws_node_class *nc,
                              nw_arena *arena, aws_resolved *out,
                              nw_error *err) {
  for (size_t t = 0; t < nc->n_sg_terms; t++) {
    const aws_selector_term *term = &nc->sg_terms[t];
    nw_aws_params p = {0};
    int nf = 0;
    if (term->id)
      nw_aws_params_add(&p, "GroupId.1", term->id);
    if (term->name)
      add_filter(&p, &nf, "group-name", (const char *const *)&term->name, 1);
    add_tag_filters(&p, &nf, term);
    xmlDocPtr doc = NULL;
    nw_status st = nw_aws_query(s->client, "ec2", "DescribeSecurityGroups",
                                EC2_VERSION, &p, arena, &doc, NULL, err);
    nw_aws_params_free(&p);
    if (st != NW_OK)
      return st;
    xmlNodePtr set =
        nw_aws_xml_path(xmlDocGetRootElement(doc), "securityGroupInfo");
    for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
         it = nw_aws_xml_next(it, "item")) {
      char *id = nw_aws_xml_text(it, "groupId");
      int dup = 0;
      for (size_t i = 0; id && i < out->n_sgs; i++)
        dup |= strcmp(out->sgs[i], id) == 0;
      if (id && !dup && out->n_sgs < 16)
        snprintf(out->sgs[out->n_sgs++], sizeof(out->sgs[0]), "%s", id);
      free(id);
    }
    xmlFreeDoc(doc);
  }
  return NW_OK;
}

static void add_ami(aws_resolved *out, const char *id, const char *arch,
                    const char *created) {
  for (size_t i = 0; i < out->n_amis; i++) {
    if (strcmp(out->amis[i].arch, arch) != 0)
      continue;
    /* One AMI per architecture: the newest, as Karpenter picks. */
    if (strcmp(created, out->amis[i].created) > 0) {
      snprintf(out->amis[i].id, sizeof(out->amis[i].id), "%s", id);
      snprintf(out->amis[i].created, sizeof(out->amis[i].created), "%s",
               created);
    }
    return;
  }
  if (out->n_amis >= 8)
    return;
  aws_ami *a = &out->amis[out->n_amis++];
  snprintf(a->id, sizeof(a->id), "%s", id);
  snprintf(a->arch, sizeof(a->arch), "%s", arch);
  snprintf(a->created, sizeof(a->created), "%s", created);
}

static nw_status ssm_parameter(aws_state *s, const char *name,
                               nw_arena *arena, char *value, size_t len,
                               nw_error *err) {
  json_t *body = json_pack("{s:s}", "Name", name);
  json_t *out = NULL;
  nw_status st = nw_aws_json(s->client, "ssm", "AmazonSSM", "GetParameter",
                             "1.1", body, arena, &out, NULL, err);
  json_decref(body);
  if (st != NW_OK)
    return st;
  const char *v =
      json_string_value(json_object_get(json_object_get(out, "Parameter"), "Value"));
  if (!v || !*v) {
    json_decref(out);
    return nw_aws_error(err, NW_ERR_INVALID,
                        "ssm GetParameter %s: answer has no Parameter.Value",
                        name);
  }
  snprintf(value, len, "%s", v);
  json_decref(out);
  return NW_OK;
}

/* The SSM parameter of an alias for one architecture, as Karpenter maps
 * them; NULL for an unknown family. */
static int alias_parameter(aws_state *s, const char *alias, const char *arch,
                           char *out, size_t len) {
  const char *at = strchr(alias, '@');
  char version[64];
  snprintf(version, sizeof(version), "%s", at + 1);
  int latest = strcmp(version, "latest") == 0;
  const char *x86 = strcmp(arch, "amd64") == 0 ? "x86_64" : "arm64";
  if (strncasecmp(alias, "al2023@", 7) == 0) {
    if (latest)
      snprintf(out, len,
               "/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/"
               "standard/recommended/image_id",
               s->k8s_version, x86);
    else
      snprintf(out, len,
               "/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/"
               "standard/amazon-eks-node-al2023-%s-standard-%s-%s/image_id",
               s->k8s_version, x86, x86, s->k8s_version, version);
    return 0;
  }
  if (strncasecmp(alias, "bottlerocket@", 13) == 0) {
    snprintf(out, len, "/aws/service/bottlerocket/aws-k8s-%s/%s/%s/image_id",
             s->k8s_version, x86, latest ? "latest" : version);
    return 0;
  }
  if (strncasecmp(alias, "al2@", 4) == 0) {
    snprintf(out, len,
             "/aws/service/eks/optimized-ami/%s/amazon-linux-2%s/recommended/"
             "image_id",
             s->k8s_version, strcmp(arch, "arm64") == 0 ? "-arm64" : "");
    return 0;
  }
  return -1;
}

static nw_status describe_images(aws_state *s, nw_aws_params *p,
                                 nw_arena *arena, aws_resolved *out,
                                 nw_error *err) {
  xmlDocPtr doc = NULL;
  nw_status st = nw_aws_query(s->client, "ec2", "DescribeImages", EC2_VERSION,
                              p, arena, &doc, NULL, err);
  if (st != NW_OK)
    return st;
  xmlNodePtr set = nw_aws_xml_path(xmlDocGetRootElement(doc), "imagesSet");
  for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
       it = nw_aws_xml_next(it, "item")) {
    char *id = nw_aws_xml_text(it, "imageId");
    char *arch = nw_aws_xml_text(it, "architecture");
    char *created = nw_aws_xml_text(it, "creationDate");
    if (id && arch)
      add_ami(out, id, strcmp(arch, "arm64") == 0 ? "arm64" : "amd64",
              created ? created : "");
    free(id);
    free(arch);
    free(created);
  }
  xmlFreeDoc(doc);
  return NW_OK;
}

static nw_status resolve_amis(aws_state *s, const aws_node_class *nc,
                              nw_arena *arena, aws_resolved *out,
                              nw_error *err) {
  for (size_t t = 0; t < nc->n_ami_terms; t++) {
    const aws_selector_term *term = &nc->ami_terms[t];
    nw_status st = NW_OK;
    if (term->alias) {
      static const char *const archs[] = {"amd64", "arm64"};
      for (size_t a = 0; a < 2 && st == NW_OK; a++) {
        char param[512], value[64];
        if (alias_parameter(s, term->alias, archs[a], param, sizeof(param)))
          return nw_aws_error(err, NW_ERR_INVALID,
                              "EC2NodeClass %s: unknown AMI alias family in "
                              "%s (al2023, al2, bottlerocket)",
                              nc->name ? nc->name : "", term->alias);
        st = ssm_parameter(s, param, arena, value, sizeof(value), err);
        if (st == NW_ERR_NOT_FOUND && a == 1) {
          st = NW_OK; /* no arm64 build of this alias: amd64 only */
          break;
        }
        if (st == NW_OK)
          add_ami(out, value, archs[a], "");
      }
      if (st != NW_OK)
        return st;
      continue;
    }
    nw_aws_params p = {0};
    int nf = 0;
    if (term->id)
      nw_aws_params_add(&p, "ImageId.1", term->id);
    if (term->name)
      add_filter(&p, &nf, "name", (const char *const *)&term->name, 1);
    if (term->owner)
      nw_aws_params_add(&p, "Owner.1", term->owner);
    add_tag_filters(&p, &nf, term);
    st = describe_images(s, &p, arena, out, err);
    nw_aws_params_free(&p);
    if (st != NW_OK)
      return st;
  }
  return NW_OK;
}

nw_status aws_resolve_node_class(aws_state *s, const aws_node_class *nc,
                                 nw_arena *arena, aws_resolved *out,
                                 nw_error *err) {
  memset(out, 0, sizeof(*out));
  nw_status st = describe_subnets(s, nc, arena, out, err);
  if (st == NW_OK)
    st = describe_sgs(s, nc, arena, out, err);
  if (st == NW_OK)
    st = resolve_amis(s, nc, arena, out, err);
  if (st != NW_OK)
    return st;
  const char *name = nc->name ? nc->name : "(unnamed)";
  if (out->n_subnets == 0)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "EC2NodeClass %s: subnetSelectorTerms match no subnet",
                        name);
  if (out->n_sgs == 0)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "EC2NodeClass %s: securityGroupSelectorTerms match no "
                        "security group",
                        name);
  if (out->n_amis == 0)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "EC2NodeClass %s: amiSelectorTerms match no image",
                        name);
  return NW_OK;
}

/* Subnets, security groups and images change rarely and every scheduling
 * pass asks for them: answers are kept per node class hash for
 * node_class_cache_ttl_s (60 s, as Karpenter caches them). */
static nw_status resolve_cached(aws_state *s, const aws_node_class *nc,
                                nw_arena *arena, aws_resolved *out,
                                nw_error *err) {
  int64_t now = s->host->monotonic_ms(s->h);
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < AWS_RESOLVE_CACHE; i++) {
    aws_resolve_entry *e = &s->resolve_cache[i];
    if (e->at_ms && now - e->at_ms < s->resolve_ttl_ms &&
        strcmp(e->hash, nc->hash) == 0) {
      *out = e->resolved;
      pthread_mutex_unlock(&s->mu);
      return NW_OK;
    }
  }
  pthread_mutex_unlock(&s->mu);
  nw_status st = aws_resolve_node_class(s, nc, arena, out, err);
  if (st != NW_OK || s->resolve_ttl_ms <= 0)
    return st;
  /* Stamped when the answers arrived, so a slow resolution is not born
   * stale. */
  now = s->host->monotonic_ms(s->h);
  pthread_mutex_lock(&s->mu);
  /* Replace the oldest entry. */
  aws_resolve_entry *slot = &s->resolve_cache[0];
  for (size_t i = 1; i < AWS_RESOLVE_CACHE; i++)
    if (s->resolve_cache[i].at_ms < slot->at_ms)
      slot = &s->resolve_cache[i];
  snprintf(slot->hash, sizeof(slot->hash), "%s", nc->hash);
  slot->resolved = *out;
  slot->at_ms = now ? now : 1;
  pthread_mutex_unlock(&s->mu);
  return NW_OK;
}

static const aws_ami *ami_for(const aws_resolved *r, const char *arch) {
  for (size_t i = 0; i < r->n_amis; i++)
    if (strcmp(r->amis[i].arch, arch) == 0)
      return &r->amis[i];
  return NULL;
}

/* The subnet with the most free addresses in a zone, or NULL. */
static const aws_subnet *subnet_for(const aws_resolved *r, const char *zone) {
  const aws_subnet *best = NULL;
  for (size_t i = 0; i < r->n_subnets; i++)
    if (strcmp(r->subnets[i].zone, zone) == 0 &&
        (!best || r->subnets[i].free_ips > best->free_ips))
      best = &r->subnets[i];
  return best;
}

/* ---------------------------------------------------- instance profile */

#define IAM_VERSION "2010-05-08"

static nw_status iam(aws_state *s, const char *action, nw_aws_params *p,
                     nw_arena *arena, xmlDocPtr *doc, nw_error *err) {
  nw_status st = nw_aws_query(s->client, "iam", action, IAM_VERSION, p, arena,
                              doc, NULL, err);
  nw_aws_params_free(p);
  return st;
}

/* spec.role without spec.instanceProfile: an instance profile owned by
 * nodewright, named from the cluster, region and role, holding that role
 * (Karpenter makes one per node class the same way). */
static nw_status ensure_instance_profile(aws_state *s, const aws_node_class *nc,
                                         nw_arena *arena, aws_resolved *out,
                                         nw_error *err) {
  char key[512], hash[65];
  snprintf(key, sizeof(key), "%s/%s/%s", s->cluster,
           nw_aws_client_region(s->client), nc->role);
  nw_aws_sha256_hex(key, strlen(key), hash);
  snprintf(out->instance_profile, sizeof(out->instance_profile),
           "nodewright_%.60s_%.16s", s->cluster, hash);
  const char *name = out->instance_profile;
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "InstanceProfileName", name);
  xmlDocPtr doc = NULL;
  nw_status st = iam(s, "GetInstanceProfile", &p, arena, &doc, err);
  char *have = NULL;
  if (st == NW_OK) {
    have = nw_aws_xml_text(xmlDocGetRootElement(doc),
                           "GetInstanceProfileResult/InstanceProfile/Roles/member/RoleName");
    xmlFreeDoc(doc);
  } else if (st == NW_ERR_NOT_FOUND) {
    nw_aws_params c = {0};
    nw_aws_params_add(&c, "InstanceProfileName", name);
    nw_aws_params_add(&c, "Tags.member.1.Key", TAG_CLUSTER);
    nw_aws_params_add(&c, "Tags.member.1.Value", s->cluster);
    st = iam(s, "CreateInstanceProfile", &c, arena, &doc, err);
    xmlFreeDoc(doc);
    if (st != NW_OK)
      return st;
    s->host->log(s->h, NW_LOG_INFO, "created instance profile %s for role %s",
                 name, nc->role);
  } else {
    return st;
  }
  if (have && strcmp(have, nc->role) == 0) {
    free(have);
    return NW_OK;
  }
  if (have) {
    nw_aws_params r = {0};
    nw_aws_params_add(&r, "InstanceProfileName", name);
    nw_aws_params_add(&r, "RoleName", have);
    st = iam(s, "RemoveRoleFromInstanceProfile", &r, arena, &doc, err);
    xmlFreeDoc(doc);
    free(have);
    if (st != NW_OK)
      return st;
  }
  nw_aws_params a = {0};
  nw_aws_params_add(&a, "InstanceProfileName", name);
  nw_aws_params_add(&a, "RoleName", nc->role);
  st = iam(s, "AddRoleToInstanceProfile", &a, arena, &doc, err);
  xmlFreeDoc(doc);
  return st;
}

/* ------------------------------------------------------ instance types */

typedef struct req_builder {
  nw_requirement *items;
  size_t len, cap;
} req_builder;

static void req_add(aws_state *s, nw_arena *a, req_builder *b, const char *key,
                    nw_operator op, const char *const *values, size_t n) {
  if (b->len == b->cap)
    return;
  const char **vals = n ? s->host->arena_alloc(a, n * sizeof(char *)) : NULL;
  for (size_t i = 0; vals && i < n; i++)
    vals[i] = adup(s, a, values[i]);
  b->items[b->len++] = (nw_requirement){.key = key, .op = op,
                                        .n_values = vals ? n : 0,
                                        .values = vals};
}


static nw_resource_list resources(aws_state *s, nw_arena *a, size_t n,
                                  const char *const *names,
                                  const int64_t *values) {
  nw_resource *r = s->host->arena_alloc(a, n * sizeof(*r));
  size_t k = 0;
  for (size_t i = 0; r && i < n; i++)
    if (values[i] > 0)
      r[k++] = (nw_resource){names[i], values[i]};
  return (nw_resource_list){r ? k : 0, r};
}

static int64_t root_volume(const aws_node_class *nc) {
  if (!nc)
    return 20 * GIB;
  for (size_t i = 0; i < nc->n_block_devices; i++)
    if (nc->block_devices[i].root || i == 0)
      if (nc->block_devices[i].volume_size > 0)
        return nc->block_devices[i].volume_size;
  return 20 * GIB;
}

static void fill_capacity(aws_state *s, nw_arena *a, const aws_itype *t,
                          const aws_node_class *nc, nw_instance_type *it) {
  aws_kubelet k;
  if (nc)
    k = nc->kubelet;
  else
    aws_kubelet_defaults(&k);
  aws_capacity c;
  aws_capacity_compute(t, &k, s->vm_overhead, root_volume(nc), &c);
  const char *gpu_res = t->gpu_manufacturer &&
                                strcmp(t->gpu_manufacturer, "nvidia") == 0
                            ? "nvidia.com/gpu"
                            : "amd.com/gpu";
  const char *cap_names[] = {"cpu", "memory", "pods", "ephemeral-storage",
                             gpu_res};
  int64_t cap_vals[] = {c.cpu_m, c.memory, c.pods, c.ephemeral, c.gpus};
  it->capacity = resources(s, a, 5, cap_names, cap_vals);
  const char *ov_names[] = {"cpu", "memory", "ephemeral-storage"};
  int64_t kr[] = {c.kr_cpu_m, c.kr_memory, c.kr_ephemeral};
  int64_t sr[] = {c.sr_cpu_m, c.sr_memory, c.sr_ephemeral};
  const char *ev_names[] = {"memory", "ephemeral-storage"};
  int64_t ev[] = {c.ev_memory, c.ev_ephemeral};
  it->kube_reserved = resources(s, a, 3, ov_names, kr);
  it->system_reserved = resources(s, a, 3, ov_names, sr);
  it->eviction_threshold = resources(s, a, 2, ev_names, ev);
}

static int zone_in(const aws_resolved *r, const char *zone) {
  if (!r)
    return 1;
  return subnet_for(r, zone) != NULL;
}

static void fill_type(aws_state *s, nw_arena *a, const aws_itype *t,
                      const aws_node_class *nc, const aws_resolved *r,
                      nw_instance_type *it) {
  it->name = adup(s, a, t->name);
  req_builder b = {s->host->arena_alloc(a, 24 * sizeof(nw_requirement)), 0, 24};
  if (!b.items)
    b.cap = 0;
  for (size_t i = 0; aws_label_keys[i]; i++) {
    char buf[64];
    const char *v = aws_label_value(t, aws_label_keys[i], buf);
    if (v)
      req_add(s, a, &b, aws_label_keys[i], NW_OP_IN, &v, 1);
    else
      req_add(s, a, &b, aws_label_keys[i], NW_OP_DOES_NOT_EXIST, NULL, 0);
  }
  const char **zones = calloc(t->n_zones + 1, sizeof(char *));
  size_t nz = 0;
  for (size_t i = 0; zones && i < t->n_zones; i++)
    if (zone_in(r, t->zones[i]))
      zones[nz++] = t->zones[i];
  req_add(s, a, &b, "topology.kubernetes.io/zone", NW_OP_IN, zones, nz);
  const char *cts[2];
  size_t nct = 0;
  if (t->spot)
    cts[nct++] = NW_CAPACITY_SPOT;
  if (t->on_demand)
    cts[nct++] = NW_CAPACITY_ON_DEMAND;
  req_add(s, a, &b, "karpenter.sh/capacity-type", NW_OP_IN, cts, nct);
  it->requirements = (nw_requirements){b.len, b.items};

  nw_offering *offs = s->host->arena_alloc(a, (nz * 2 + 1) * sizeof(*offs));
  size_t no = 0;
  for (size_t z = 0; offs && z < nz; z++) {
    for (size_t c = 0; c < nct; c++) {
      /* -1 unless the user overrides the type: the host prices it
       * through its pricing plugins (and holds it unavailable when none
       * can). */
      offs[no++] = (nw_offering){
          .zone = adup(s, a, zones[z]),
          .capacity_type = cts[c],
          .price = aws_price(s, t->name, cts[c]),
          .available = !aws_is_unavailable(s, t->name, zones[z], cts[c])};
    }
  }
  free(zones);
  it->n_offerings = no;
  it->offerings = offs;
  fill_capacity(s, a, t, nc, it);
}

static int arch_ok(const aws_resolved *r, const char *arch) {
  return !r || ami_for(r, arch) != NULL;
}

nw_status aws_instance_types(aws_state *s, const char *node_class_json,
                             nw_arena *arena, nw_instance_types *out,
                             nw_error *err) {
  out->len = 0;
  out->items = NULL;
  aws_node_class nc;
  aws_resolved *r = NULL;
  int have_nc = 0;
  nw_status st = NW_OK;
  if (node_class_json) {
    st = aws_node_class_parse(node_class_json, &nc, err);
    if (st != NW_OK)
      return st;
    have_nc = 1;
    r = calloc(1, sizeof(*r));
    st = r ? resolve_cached(s, &nc, arena, r, err)
           : nw_aws_error(err, NW_ERR, "aws: out of memory");
  }
  if (st == NW_OK)
    st = aws_catalog_refresh(s, arena, err);
  if (st == NW_OK) {
    pthread_mutex_lock(&s->mu);
    nw_instance_type *items =
        s->host->arena_alloc(arena, (s->catalog.len + 1) * sizeof(*items));
    size_t n = 0;
    for (size_t i = 0; items && i < s->catalog.len; i++) {
      const aws_itype *t = &s->catalog.items[i];
      if (!arch_ok(r, t->arch))
        continue;
      fill_type(s, arena, t, have_nc ? &nc : NULL, r, &items[n++]);
    }
    pthread_mutex_unlock(&s->mu);
    out->len = n;
    out->items = items;
  }
  free(r);
  if (have_nc)
    aws_node_class_free(&nc);
  return st;
}

/* --------------------------------------------------------- user data */

static char *base64(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(4 * ((n + 2) / 3) + 1);
  if (out)
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
  return out;
}

static const char *effect_name(nw_taint_effect e) {
  switch (e) {
  case NW_TAINT_NO_EXECUTE:
    return "NoExecute";
  case NW_TAINT_PREFER_NO_SCHEDULE:
    return "PreferNoSchedule";
  default:
    return "NoSchedule";
  }
}

static void node_labels(nw_aws_buf *b, const nw_node_claim *claim,
                        const char *sep, const char *kv_fmt) {
  nw_aws_buf_printf(b, kv_fmt, TAG_NODEPOOL, claim->nodepool ? claim->nodepool : "");
  for (size_t i = 0; i < claim->labels.len; i++) {
    if (strcmp(claim->labels.items[i].key, TAG_NODEPOOL) == 0)
      continue;
    nw_aws_buf_puts(b, sep);
    nw_aws_buf_printf(b, kv_fmt, claim->labels.items[i].key,
                      claim->labels.items[i].value);
  }
}

static void taint_list(nw_aws_buf *b, const nw_node_claim *claim) {
  const nw_taints *lists[] = {&claim->taints, &claim->startup_taints};
  int first = 1;
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < lists[l]->len; i++) {
      const nw_taint *t = &lists[l]->items[i];
      nw_aws_buf_printf(b, "%s%s=%s:%s", first ? "" : ",", t->key,
                        t->value ? t->value : "", effect_name(t->effect));
      first = 0;
    }
}

/* AL2023: a MIME multipart document whose nodeadm NodeConfig part joins the
 * cluster; the user's own user data follows as its own part(s). */
static void user_data_al2023(aws_state *s, const aws_node_class *nc,
                             const nw_node_claim *claim, int64_t max_pods,
                             nw_aws_buf *b) {
  nw_aws_buf_puts(b, "MIME-Version: 1.0\nContent-Type: multipart/mixed; "
                     "boundary=\"//\"\n\n");
  if (nc->user_data && *nc->user_data) {
    const char *u = nc->user_data;
    if (strncmp(u, "MIME-Version", 12) == 0) {
      /* Keep the user's parts: everything between its first boundary and
       * its closing one, assuming the same "//" boundary Karpenter docs
       * use; other boundaries are carried as one opaque part. */
      const char *first = strstr(u, "\n--");
      const char *end = first ? strstr(first + 3, "--\n") : NULL;
      if (first && end && strstr(u, "boundary=\"//\"")) {
        nw_aws_buf_append(b, first + 1, (size_t)(end - first) - 1);
      } else {
        nw_aws_buf_printf(b, "--//\nContent-Type: text/x-shellscript\n\n%s\n", u);
      }
    } else if (strstr(u, "kind: NodeConfig")) {
      nw_aws_buf_printf(b, "--//\nContent-Type: application/node.eks.aws\n\n%s\n", u);
    } else {
      nw_aws_buf_printf(b, "--//\nContent-Type: text/x-shellscript; "
                           "charset=\"us-ascii\"\n\n%s\n", u);
    }
  }
  nw_aws_buf_printf(b,
                    "--//\nContent-Type: application/node.eks.aws\n\n"
                    "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\n"
                    "spec:\n  cluster:\n    name: %s\n"
                    "    apiServerEndpoint: %s\n"
                    "    certificateAuthority: %s\n"
                    "  kubelet:\n    config:\n      maxPods: %lld\n"
                    "    flags:\n    - --node-labels=",
                    s->cluster, s->cluster_endpoint, s->cluster_ca,
                    (long long)max_pods);
  node_labels(b, claim, ",", "%s=%s");
  if (claim->taints.len + claim->startup_taints.len) {
    nw_aws_buf_puts(b, "\n    - --register-with-taints=");
    taint_list(b, claim);
  }
  nw_aws_buf_puts(b, "\n--//--\n");
}

/* Bottlerocket: TOML settings; the user's TOML comes first and ours
 * follows, so a user table that nodewright also writes is rejected. */
static nw_status user_data_bottlerocket(aws_state *s, const aws_node_class *nc,
                                        const nw_node_claim *claim,
                                        int64_t max_pods, nw_aws_buf *b,
                                        nw_error *err) {
  if (nc->user_data && strstr(nc->user_data, "[settings.kubernetes]"))
    return nw_aws_error(err, NW_ERR_INVALID,
                        "EC2NodeClass %s: userData may not set "
                        "[settings.kubernetes] for Bottlerocket; nodewright "
                        "writes that table (use [settings.kubernetes.*] "
                        "sub-tables)",
                        nc->name ? nc->name : "");
  if (nc->user_data && *nc->user_data)
    nw_aws_buf_printf(b, "%s\n", nc->user_data);
  nw_aws_buf_printf(b,
                    "[settings.kubernetes]\ncluster-name = \"%s\"\n"
                    "api-server = \"%s\"\ncluster-certificate = \"%s\"\n"
                    "max-pods = %lld\n\n[settings.kubernetes.node-labels]\n",
                    s->cluster, s->cluster_endpoint, s->cluster_ca,
                    (long long)max_pods);
  node_labels(b, claim, "\n", "\"%s\" = \"%s\"");
  nw_aws_buf_puts(b, "\n");
  const nw_taints *lists[] = {&claim->taints, &claim->startup_taints};
  int any = claim->taints.len + claim->startup_taints.len > 0;
  if (any)
    nw_aws_buf_puts(b, "\n[settings.kubernetes.node-taints]\n");
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < lists[l]->len; i++) {
      const nw_taint *t = &lists[l]->items[i];
      nw_aws_buf_printf(b, "\"%s\" = [\"%s:%s\"]\n", t->key,
                        t->value ? t->value : "", effect_name(t->effect));
    }
  return NW_OK;
}

static nw_status user_data(aws_state *s, const aws_node_class *nc,
                           const nw_node_claim *claim, int64_t max_pods,
                           char **out, nw_error *err) {
  nw_aws_buf b = {0};
  nw_status st = NW_OK;
  if (strcasecmp(nc->ami_family, "Bottlerocket") == 0) {
    st = user_data_bottlerocket(s, nc, claim, max_pods, &b, err);
  } else if (strcasecmp(nc->ami_family, "AL2023") == 0) {
    user_data_al2023(s, nc, claim, max_pods, &b);
  } else if (strcasecmp(nc->ami_family, "AL2") == 0) {
    nw_aws_buf_printf(&b, "#!/bin/bash -xe\n%s\n/etc/eks/bootstrap.sh '%s' "
                          "--apiserver-endpoint '%s' --b64-cluster-ca '%s' "
                          "--use-max-pods false --kubelet-extra-args "
                          "'--max-pods=%lld --node-labels=",
                      nc->user_data ? nc->user_data : "", s->cluster,
                      s->cluster_endpoint, s->cluster_ca, (long long)max_pods);
    node_labels(&b, claim, ",", "%s=%s");
    nw_aws_buf_puts(&b, "'\n");
  } else {
    nw_aws_buf_puts(&b, nc->user_data ? nc->user_data : "");
  }
  if (st != NW_OK) {
    nw_aws_buf_free(&b);
    return st;
  }
  *out = nw_aws_buf_take(&b);
  return *out ? NW_OK : nw_aws_error(err, NW_ERR, "aws: out of memory");
}

/* --------------------------------------------------- launch templates */

static void add_tag_spec(nw_aws_params *p, int idx, const char *type,
                         size_t n, const char *const *keys,
                         const char *const *values, const char *prefix) {
  nw_aws_params_addf(p, type, "%sTagSpecification.%d.ResourceType", prefix,
                     idx);
  for (size_t i = 0; i < n; i++) {
    nw_aws_params_addf(p, keys[i], "%sTagSpecification.%d.Tag.%zu.Key", prefix,
                       idx, i + 1);
    nw_aws_params_addf(p, values[i], "%sTagSpecification.%d.Tag.%zu.Value",
                       prefix, idx, i + 1);
  }
}

static nw_status lt_data(aws_state *s, const aws_node_class *nc,
                         const aws_resolved *r, const aws_ami *ami,
                         const nw_node_claim *claim, int64_t max_pods,
                         nw_aws_params *p, nw_error *err) {
  const char *D = "LaunchTemplateData.";
  char name[160];
  nw_aws_params_addf(p, ami->id, "%sImageId", D);
  if (nc->associate_public_ip >= 0) {
    /* A public address is a property of the primary interface, and EC2
     * then wants the security groups on that interface, not on the
     * instance. */
    nw_aws_params_addf(p, "0", "%sNetworkInterface.1.DeviceIndex", D);
    nw_aws_params_addf(p, nc->associate_public_ip ? "true" : "false",
                       "%sNetworkInterface.1.AssociatePublicIpAddress", D);
    for (size_t i = 0; i < r->n_sgs; i++)
      nw_aws_params_addf(p, r->sgs[i], "%sNetworkInterface.1.SecurityGroupId.%zu",
                         D, i + 1);
  } else {
    for (size_t i = 0; i < r->n_sgs; i++)
      nw_aws_params_addf(p, r->sgs[i], "%sSecurityGroupId.%zu", D, i + 1);
  }
  if (r->instance_profile[0])
    nw_aws_params_addf(p, r->instance_profile, "%sIamInstanceProfile.Name", D);
  else if (nc->instance_profile)
    nw_aws_params_addf(p, nc->instance_profile, "%sIamInstanceProfile.Name", D);
  nw_aws_params_addf(p, nc->http_endpoint ? nc->http_endpoint : "enabled",
                     "%sMetadataOptions.HttpEndpoint", D);
  nw_aws_params_addf(p, nc->http_tokens ? nc->http_tokens : "required",
                     "%sMetadataOptions.HttpTokens", D);
  snprintf(name, sizeof(name), "%lld", (long long)nc->http_hop_limit);
  nw_aws_params_addf(p, name, "%sMetadataOptions.HttpPutResponseHopLimit", D);
  if (nc->http_protocol_ipv6)
    nw_aws_params_addf(p, nc->http_protocol_ipv6,
                       "%sMetadataOptions.HttpProtocolIpv6", D);
  if (nc->detailed_monitoring)
    nw_aws_params_addf(p, "true", "%sMonitoring.Enabled", D);
  for (size_t i = 0; i < nc->n_block_devices; i++) {
    const aws_block_device *bd = &nc->block_devices[i];
    char pre[96];
    snprintf(pre, sizeof(pre), "%sBlockDeviceMapping.%zu.", D, i + 1);
    nw_aws_params_addf(p, bd->device_name, "%sDeviceName", pre);
    if (bd->volume_size > 0) {
      snprintf(name, sizeof(name), "%lld",
               (long long)((bd->volume_size + GIB - 1) / GIB));
      nw_aws_params_addf(p, name, "%sEbs.VolumeSize", pre);
    }
    if (bd->volume_type)
      nw_aws_params_addf(p, bd->volume_type, "%sEbs.VolumeType", pre);
    if (bd->encrypted >= 0)
      nw_aws_params_addf(p, bd->encrypted ? "true" : "false", "%sEbs.Encrypted",
                         pre);
    if (bd->kms_key_id)
      nw_aws_params_addf(p, bd->kms_key_id, "%sEbs.KmsKeyId", pre);
    if (bd->iops > 0) {
      snprintf(name, sizeof(name), "%lld", (long long)bd->iops);
      nw_aws_params_addf(p, name, "%sEbs.Iops", pre);
    }
    if (bd->throughput > 0) {
      snprintf(name, sizeof(name), "%lld", (long long)bd->throughput);
      nw_aws_params_addf(p, name, "%sEbs.Throughput", pre);
    }
    if (bd->delete_on_termination >= 0)
      nw_aws_params_addf(p, bd->delete_on_termination ? "true" : "false",
                         "%sEbs.DeleteOnTermination", pre);
  }
  char *ud = NULL;
  nw_status st = user_data(s, nc, claim, max_pods, &ud, err);
  if (st != NW_OK)
    return st;
  char *b64 = base64(ud);
  free(ud);
  if (!b64)
    return nw_aws_error(err, NW_ERR, "aws: out of memory");
  nw_aws_params_addf(p, b64, "%sUserData", D);
  free(b64);
  return NW_OK;
}

static const char *lt_cached(aws_state *s, const char *name, char *id,
                             size_t len) {
  const char *hit = NULL;
  int64_t now = s->host->monotonic_ms(s->h);
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_lts && !hit; i++)
    if (strcmp(s->lts[i].name, name) == 0) {
      snprintf(id, len, "%s", s->lts[i].id);
      s->lts[i].used_ms = now;
      hit = id;
    }
  pthread_mutex_unlock(&s->mu);
  return hit;
}

static void lt_remember(aws_state *s, const char *name, const char *id) {
  int64_t now = s->host->monotonic_ms(s->h);
  pthread_mutex_lock(&s->mu);
  if (s->n_lts == s->cap_lts) {
    size_t cap = s->cap_lts ? s->cap_lts * 2 : 8;
    aws_lt_entry *n = realloc(s->lts, cap * sizeof(*n));
    if (n) {
      s->lts = n;
      s->cap_lts = cap;
    }
  }
  if (s->n_lts < s->cap_lts) {
    aws_lt_entry *e = &s->lts[s->n_lts++];
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->used_ms = now;
  }
  pthread_mutex_unlock(&s->mu);
}

/* Forgets every cached template (one was deleted behind our back). */
static void lt_forget_all(aws_state *s) {
  pthread_mutex_lock(&s->mu);
  s->n_lts = 0;
  pthread_mutex_unlock(&s->mu);
}

/* Deletes the templates no launch has needed for launch_template_ttl_s:
 * content hashes change with AMIs, labels and node classes, and EC2 keeps
 * at most 5,000 templates per region.  Instances never need their
 * template after launch. */
static int lt_any_expired(aws_state *s, int64_t now) {
  int any = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_lts && !any; i++)
    any = now - s->lts[i].used_ms >= s->lt_ttl_ms;
  pthread_mutex_unlock(&s->mu);
  return any;
}

/* Deleting takes lt_lock for writing: launches hold it for reading from
 * choosing their templates to CreateFleet, so a template found by name
 * is never deleted under a launch that is about to use it. */
static void lt_sweep(aws_state *s, nw_arena *arena) {
  if (s->lt_ttl_ms <= 0 || !lt_any_expired(s, s->host->monotonic_ms(s->h)))
    return;
  pthread_rwlock_wrlock(&s->lt_lock);
  int64_t now = s->host->monotonic_ms(s->h);
  aws_lt_entry gone[16];
  size_t n_gone = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_lts;) {
    if (now - s->lts[i].used_ms < s->lt_ttl_ms || n_gone == 16) {
      i++;
      continue;
    }
    gone[n_gone++] = s->lts[i];
    s->lts[i] = s->lts[--s->n_lts];
  }
  pthread_mutex_unlock(&s->mu);
  for (size_t i = 0; i < n_gone; i++) {
    nw_aws_params p = {0};
    nw_aws_params_add(&p, "LaunchTemplateId", gone[i].id);
    xmlDocPtr doc = NULL;
    nw_error err = {0};
    nw_status st = nw_aws_query(s->client, "ec2", "DeleteLaunchTemplate",
                                EC2_VERSION, &p, arena, &doc, NULL, &err);
    nw_aws_params_free(&p);
    xmlFreeDoc(doc);
    if (st == NW_OK || st == NW_ERR_NOT_FOUND) {
      s->host->counter_add(s->h, "aws_launch_template_deleted_total", NULL, 1);
      s->host->log(s->h, NW_LOG_INFO, "deleted unused launch template %s (%s)",
                   gone[i].name, gone[i].id);
    } else {
      s->host->log(s->h, NW_LOG_WARN, "launch template %s: %s", gone[i].name,
                   err.message);
    }
  }
  pthread_rwlock_unlock(&s->lt_lock);
}

static nw_status lt_lookup(aws_state *s, const char *name, nw_arena *arena,
                           char *id, size_t len, nw_error *err) {
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "LaunchTemplateName.1", name);
  xmlDocPtr doc = NULL;
  nw_aws_fault f;
  nw_status st = nw_aws_query(s->client, "ec2", "DescribeLaunchTemplates",
                              EC2_VERSION, &p, arena, &doc, &f, err);
  nw_aws_params_free(&p);
  if (st != NW_OK)
    return st;
  char *got = nw_aws_xml_text(xmlDocGetRootElement(doc),
                              "launchTemplates/item/launchTemplateId");
  xmlFreeDoc(doc);
  if (!got)
    return NW_ERR_NOT_FOUND;
  snprintf(id, len, "%s", got);
  free(got);
  return NW_OK;
}

/* The launch template for this content: named by a hash of its data, so
 * identical launches share one and any change makes a new one. */
static nw_status ensure_lt(aws_state *s, const aws_node_class *nc,
                           const aws_resolved *r, const aws_ami *ami,
                           const nw_node_claim *claim, int64_t max_pods,
                           nw_arena *arena, char *id, size_t len,
                           nw_error *err) {
  nw_aws_params data = {0};
  nw_status st = lt_data(s, nc, r, ami, claim, max_pods, &data, err);
  if (st != NW_OK) {
    nw_aws_params_free(&data);
    return st;
  }
  nw_aws_buf content = {0};
  for (size_t i = 0; i < data.len; i++)
    nw_aws_buf_printf(&content, "%s=%s\n", data.names[i], data.values[i]);
  char hash[65];
  nw_aws_sha256_hex(content.data ? content.data : "", content.len, hash);
  nw_aws_buf_free(&content);
  char name[128];
  snprintf(name, sizeof(name), "nodewright/%s/%.16s", s->cluster, hash);
  if (lt_cached(s, name, id, len)) {
    nw_aws_params_free(&data);
    s->host->counter_add(s->h, "aws_launch_template_reused_total", NULL, 1);
    return NW_OK;
  }
  st = lt_lookup(s, name, arena, id, len, err);
  if (st == NW_OK || (st != NW_ERR_NOT_FOUND)) {
    nw_aws_params_free(&data);
    if (st == NW_OK) {
      lt_remember(s, name, id);
      s->host->counter_add(s->h, "aws_launch_template_reused_total", NULL, 1);
    }
    return st;
  }
  nw_aws_params_add(&data, "LaunchTemplateName", name);
  char *ckey = cluster_tag_key(s);
  const char *keys[] = {TAG_CLUSTER, ckey ? ckey : "", TAG_NODECLASS};
  const char *vals[] = {s->cluster, "owned", nc->name ? nc->name : ""};
  add_tag_spec(&data, 1, "launch-template", 3, keys, vals, "");
  free(ckey);
  xmlDocPtr doc = NULL;
  nw_aws_fault fault;
  st = nw_aws_query(s->client, "ec2", "CreateLaunchTemplate", EC2_VERSION,
                    &data, arena, &doc, &fault, err);
  nw_aws_params_free(&data);
  if (st != NW_OK &&
      strcmp(fault.code, "InvalidLaunchTemplateName.AlreadyExistsException") == 0) {
    /* A concurrent launch made the same template first: same content,
     * same name, so theirs is ours. */
    st = lt_lookup(s, name, arena, id, len, err);
    if (st == NW_OK)
      lt_remember(s, name, id);
    return st;
  }
  if (st != NW_OK)
    return st;
  char *got = nw_aws_xml_text(xmlDocGetRootElement(doc),
                              "launchTemplate/launchTemplateId");
  xmlFreeDoc(doc);
  if (!got)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "ec2 CreateLaunchTemplate: answer has no "
                        "launchTemplateId");
  snprintf(id, len, "%s", got);
  free(got);
  lt_remember(s, name, id);
  s->host->counter_add(s->h, "aws_launch_template_created_total", NULL, 1);
  s->host->log(s->h, NW_LOG_INFO, "created launch template %s (%s)", name, id);
  return NW_OK;
}

/* ----------------------------------------------------------- instances */

static nw_instance_state parse_state(const char *name) {
  if (!name)
    return NW_INSTANCE_PENDING;
  if (strcmp(name, "running") == 0)
    return NW_INSTANCE_RUNNING;
  if (strcmp(name, "stopping") == 0)
    return NW_INSTANCE_STOPPING;
  if (strcmp(name, "stopped") == 0)
    return NW_INSTANCE_STOPPED;
  if (strcmp(name, "shutting-down") == 0)
    return NW_INSTANCE_TERMINATING;
  if (strcmp(name, "terminated") == 0)
    return NW_INSTANCE_TERMINATED;
  return NW_INSTANCE_PENDING;
}

static void instance_labels(aws_state *s, nw_arena *a, const aws_itype *t,
                            const char *zone, const char *ct,
                            const char *nodepool, nw_labels *out) {
  nw_kv *kv = s->host->arena_alloc(a, 24 * sizeof(*kv));
  size_t n = 0;
  for (size_t i = 0; kv && t && aws_label_keys[i]; i++) {
    char buf[64];
    const char *v = aws_label_value(t, aws_label_keys[i], buf);
    if (v)
      kv[n++] = (nw_kv){aws_label_keys[i], adup(s, a, v)};
  }
  if (kv) {
    kv[n++] = (nw_kv){"topology.kubernetes.io/zone", adup(s, a, zone)};
    kv[n++] = (nw_kv){"karpenter.sh/capacity-type", adup(s, a, ct)};
    if (nodepool)
      kv[n++] = (nw_kv){TAG_NODEPOOL, adup(s, a, nodepool)};
  }
  out->len = kv ? n : 0;
  out->items = kv;
}

static void instance_resources(aws_state *s, nw_arena *a, const aws_itype *t,
                               nw_node_instance *out) {
  if (!t)
    return;
  nw_instance_type it;
  memset(&it, 0, sizeof(it));
  fill_capacity(s, a, t, NULL, &it);
  out->capacity = it.capacity;
  /* allocatable = capacity - kube-reserved - system-reserved - eviction */
  nw_resource *al = s->host->arena_alloc(a, it.capacity.len * sizeof(*al) + 1);
  for (size_t i = 0; al && i < it.capacity.len; i++) {
    int64_t v = it.capacity.items[i].value;
    const nw_resource_list *subs[] = {&it.kube_reserved, &it.system_reserved,
                                      &it.eviction_threshold};
    for (int l = 0; l < 3; l++)
      for (size_t j = 0; j < subs[l]->len; j++)
        if (strcmp(subs[l]->items[j].name, it.capacity.items[i].name) == 0)
          v -= subs[l]->items[j].value;
    al[i] = (nw_resource){it.capacity.items[i].name, v < 0 ? 0 : v};
  }
  out->allocatable = (nw_resource_list){al ? it.capacity.len : 0, al};
}

/* Fills out from a DescribeInstances item. */
static void parse_instance(aws_state *s, nw_arena *a, xmlNodePtr it,
                           nw_node_instance *out) {
  memset(out, 0, sizeof(*out));
  char *id = nw_aws_xml_text(it, "instanceId");
  char *type = nw_aws_xml_text(it, "instanceType");
  char *zone = nw_aws_xml_text(it, "placement/availabilityZone");
  char *image = nw_aws_xml_text(it, "imageId");
  char *state = nw_aws_xml_text(it, "instanceState/name");
  char *launch = nw_aws_xml_text(it, "launchTime");
  char *life = nw_aws_xml_text(it, "instanceLifecycle");
  const char *ct = life && strcmp(life, "spot") == 0 ? NW_CAPACITY_SPOT
                                                      : NW_CAPACITY_ON_DEMAND;
  char pid[128];
  snprintf(pid, sizeof(pid), "aws:///%s/%s", zone ? zone : "", id ? id : "");
  out->provider_id = adup(s, a, pid);
  out->instance_type = adup(s, a, type);
  out->zone = adup(s, a, zone);
  out->image_id = adup(s, a, image);
  out->capacity_type = ct;
  out->state = parse_state(state);
  int64_t t = launch ? nw_aws_parse_iso8601(launch) : -1;
  out->created_at_ms = t > 0 ? t : 0;
  xmlNodePtr tags = nw_aws_xml_child(it, "tagSet");
  for (xmlNodePtr tg = nw_aws_xml_child(tags, "item"); tg;
       tg = nw_aws_xml_next(tg, "item")) {
    char *k = nw_aws_xml_text(tg, "key");
    char *v = nw_aws_xml_text(tg, "value");
    if (k && strcmp(k, TAG_CLAIM) == 0)
      out->claim_name = adup(s, a, v);
    if (k && strcmp(k, TAG_NODEPOOL) == 0)
      out->nodepool = adup(s, a, v);
    free(k);
    free(v);
  }
  pthread_mutex_lock(&s->mu);
  const aws_itype *itp = type ? aws_catalog_find(&s->catalog, type) : NULL;
  instance_labels(s, a, itp, zone ? zone : "", ct, out->nodepool, &out->labels);
  instance_resources(s, a, itp, out);
  pthread_mutex_unlock(&s->mu);
  aws_remember_instance(s, id, zone);
  free(id);
  free(type);
  free(zone);
  free(image);
  free(state);
  free(launch);
  free(life);
}

/* DescribeInstances with params; every instance item is passed to fn. */
typedef void (*instance_fn)(aws_state *s, nw_arena *a, xmlNodePtr item,
                            void *user);

static nw_status describe_instances(aws_state *s, nw_aws_params *base,
                                    nw_arena *arena, instance_fn fn,
                                    void *user, nw_error *err) {
  char *token = NULL;
  nw_status st = NW_OK;
  for (int page = 0; page < 1000; page++) {
    nw_aws_params p = {0};
    for (size_t i = 0; i < base->len; i++)
      nw_aws_params_add(&p, base->names[i], base->values[i]);
    if (token)
      nw_aws_params_add(&p, "NextToken", token);
    free(token);
    token = NULL;
    xmlDocPtr doc = NULL;
    st = nw_aws_query(s->client, "ec2", "DescribeInstances", EC2_VERSION, &p,
                      arena, &doc, NULL, err);
    nw_aws_params_free(&p);
    if (st != NW_OK)
      break;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr rs = nw_aws_xml_child(root, "reservationSet");
    for (xmlNodePtr r = nw_aws_xml_child(rs, "item"); r;
         r = nw_aws_xml_next(r, "item")) {
      xmlNodePtr is = nw_aws_xml_child(r, "instancesSet");
      for (xmlNodePtr it = nw_aws_xml_child(is, "item"); it;
           it = nw_aws_xml_next(it, "item"))
        fn(s, arena, it, user);
    }
    token = nw_aws_xml_text(root, "nextToken");
    xmlFreeDoc(doc);
    if (!token || !*token)
      break;
  }
  free(token);
  return st;
}

typedef struct collect_ctx {
  nw_node_instance *items;
  size_t len, cap;
  int skip_terminated;
} collect_ctx;

static void collect_instance(aws_state *s, nw_arena *a, xmlNodePtr it,
                             void *user) {
  collect_ctx *c = user;
  char *state = nw_aws_xml_text(it, "instanceState/name");
  int terminated = state && strcmp(state, "terminated") == 0;
  free(state);
  if (terminated && c->skip_terminated)
    return;
  if (c->len == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    nw_node_instance *n = s->host->arena_alloc(a, cap * sizeof(*n));
    if (!n)
      return;
    if (c->items)
      memcpy(n, c->items, c->len * sizeof(*n));
    c->items = n;
    c->cap = cap;
  }
  parse_instance(s, a, it, &c->items[c->len++]);
}

static void add_owned_filters(aws_state *s, nw_aws_params *p, int *nf) {
  char *ckey = cluster_tag_key(s);
  char name[320];
  snprintf(name, sizeof(name), "tag:%s", ckey ? ckey : "");
  const char *owned = "owned";
  add_filter(p, nf, name, &owned, 1);
  free(ckey);
  const char *np = TAG_NODEPOOL;
  add_filter(p, nf, "tag-key", &np, 1);
  static const char *const live[] = {"pending", "running", "stopping",
                                     "stopped", "shutting-down"};
  add_filter(p, nf, "instance-state-name", live, 5);
}

nw_status aws_list(aws_state *s, nw_arena *arena, nw_node_instances *out,
                   nw_error *err) {
  out->len = 0;
  out->items = NULL;
  nw_status st = aws_catalog_refresh(s, arena, err);
  if (st != NW_OK)
    return st;
  nw_aws_params p = {0};
  int nf = 0;
  add_owned_filters(s, &p, &nf);
  collect_ctx c = {.skip_terminated = 1};
  st = describe_instances(s, &p, arena, collect_instance, &c, err);
  nw_aws_params_free(&p);
  if (st == NW_OK) {
    out->len = c.len;
    out->items = c.items;
  }
  return st;
}

/* Batched DescribeInstances / TerminateInstances (see the batching
 * section below). */
typedef enum { ID_DESCRIBE, ID_TERMINATE } id_op;
typedef struct id_batch id_batch;
static nw_status id_batched(aws_state *s, id_op op, const char *id,
                            nw_arena *arena, nw_node_instance *out,
                            nw_error *err);

nw_status aws_get(aws_state *s, const char *provider_id, nw_arena *arena,
                  nw_node_instance *out, nw_error *err) {
  char idbuf[32];
  const char *id = aws_instance_id(provider_id, idbuf);
  if (!id)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "aws: %s is not an AWS provider id "
                        "(aws:///<zone>/<instance-id>)",
                        provider_id ? provider_id : "(null)");
  nw_status st = aws_catalog_refresh(s, arena, err);
  if (st != NW_OK)
    return st;
  return id_batched(s, ID_DESCRIBE, id, arena, out, err);
}

nw_status aws_delete(aws_state *s, const char *provider_id, nw_error *err) {
  char idbuf[32];
  const char *id = aws_instance_id(provider_id, idbuf);
  if (!id)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "aws: %s is not an AWS provider id",
                        provider_id ? provider_id : "(null)");
  nw_status st = id_batched(s, ID_TERMINATE, id, NULL, NULL, err);
  if (st == NW_OK)
    s->host->counter_add(s->h, "aws_instances_terminated_total", NULL, 1);
  return st;
}

/* ------------------------------------------------------------- create */

typedef struct candidate {
  const aws_itype *type;
  const char *zone;
  const aws_subnet *subnet;
  const char *ct;
  double price;
} candidate;

static int cmp_candidate(const void *a, const void *b) {
  const candidate *x = a, *y = b;
  if (x->price != y->price)
    return x->price < y->price ? -1 : 1;
  int c = strcmp(x->type->name, y->type->name);
  return c ? c : strcmp(x->zone, y->zone);
}

/* Every (type, zone, capacity type) the claim allows, available now. */
static size_t candidates(aws_state *s, const nw_node_claim *claim,
                         const aws_resolved *r, candidate *out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < s->catalog.len; i++) {
    const aws_itype *t = &s->catalog.items[i];
    if (!ami_for(r, t->arch) || !aws_type_matches(t, &claim->requirements))
      continue;
    for (size_t z = 0; z < t->n_zones; z++) {
      const aws_subnet *sn = subnet_for(r, t->zones[z]);
      if (!sn || !aws_value_allowed(&claim->requirements,
                                    "topology.kubernetes.io/zone", t->zones[z]))
        continue;
      const char *cts[2] = {t->spot ? NW_CAPACITY_SPOT : NULL,
                            t->on_demand ? NW_CAPACITY_ON_DEMAND : NULL};
      for (int c = 0; c < 2; c++) {
        if (!cts[c] || !aws_value_allowed(&claim->requirements,
                                          "karpenter.sh/capacity-type", cts[c]))
          continue;
        if (aws_is_unavailable(s, t->name, t->zones[z], cts[c]))
          continue;
        /* Unpriced offerings are out, as the host holds them unavailable;
         * a host that cannot price (before ABI 1.2) gets them last. */
        double price = aws_launch_price(s, t->name, t->zones[z], cts[c]);
        if (price < 0 && aws_host_prices(s))
          continue;
        if (price < 0)
          price = 1e9;
        if (n < max)
          out[n++] = (candidate){t, t->zones[z], sn, cts[c], price};
      }
    }
  }
  return n;
}

typedef struct existing_ctx {
  nw_node_instance inst;
  int found;
} existing_ctx;

static void first_live(aws_state *s, nw_arena *a, xmlNodePtr it, void *user) {
  existing_ctx *c = user;
  char *state = nw_aws_xml_text(it, "instanceState/name");
  int live = state && strcmp(state, "terminated") != 0 &&
             strcmp(state, "shutting-down") != 0;
  free(state);
  if (live && !c->found) {
    parse_instance(s, a, it, &c->inst);
    c->found = 1;
  }
}

/* The instance an earlier create for this claim made, if any. */
static nw_status find_claim_instance(aws_state *s, const nw_node_claim *claim,
                                     nw_arena *arena, existing_ctx *c,
                                     nw_error *err) {
  nw_aws_params p = {0};
  int nf = 0;
  char *ckey = cluster_tag_key(s);
  char name[320];
  snprintf(name, sizeof(name), "tag:%s", ckey ? ckey : "");
  free(ckey);
  const char *owned = "owned";
  add_filter(&p, &nf, name, &owned, 1);
  add_filter(&p, &nf, "tag:" TAG_CLAIM, &claim->name, 1);
  memset(c, 0, sizeof(*c));
  nw_status st = describe_instances(s, &p, arena, first_live, c, err);
  nw_aws_params_free(&p);
  return st;
}

static void fleet_params(aws_state *s, const nw_node_claim *claim,
                         const aws_node_class *nc, const candidate *cands,
                         size_t n, const char *const *lt_ids,
                         const char *const *archs, size_t n_archs,
                         nw_aws_params *p) {
  const char *ct = cands[0].ct;
  /* TotalTargetCapacity is added by the batch leader (fleet_batched). */
  nw_aws_params_add(p, "Type", "instant");
  nw_aws_params_add(p, "TargetCapacitySpecification.DefaultTargetCapacityType",
                    ct);
  if (strcmp(ct, NW_CAPACITY_SPOT) == 0)
    nw_aws_params_add(p, "SpotOptions.AllocationStrategy",
                      "price-capacity-optimized");
  else
    nw_aws_params_add(p, "OnDemandOptions.AllocationStrategy", "lowest-price");
  for (size_t a = 0; a < n_archs; a++) {
    char pre[64];
    snprintf(pre, sizeof(pre), "LaunchTemplateConfigs.%zu.", a + 1);
    nw_aws_params_addf(p, lt_ids[a],
                       "%sLaunchTemplateSpecification.LaunchTemplateId", pre);
    nw_aws_params_addf(p, "$Latest", "%sLaunchTemplateSpecification.Version",
                       pre);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (strcmp(cands[i].type->arch, archs[a]) != 0)
        continue;
      k++;
      nw_aws_params_addf(p, cands[i].type->name, "%sOverrides.%zu.InstanceType",
                         pre, k);
      nw_aws_params_addf(p, cands[i].subnet->id, "%sOverrides.%zu.SubnetId",
                         pre, k);
      nw_aws_params_addf(p, cands[i].zone, "%sOverrides.%zu.AvailabilityZone",
                         pre, k);
    }
  }
  char *ckey = cluster_tag_key(s);
  /* The claim's own tag is not here: concurrent claims share one call,
   * and each instance gets its claim tag with CreateTags afterwards. */
  (void)claim;
  size_t nt = 6 + nc->n_tags;
  const char **keys = calloc(nt, sizeof(char *));
  const char **vals = calloc(nt, sizeof(char *));
  if (keys && vals) {
    size_t k = 0;
    /* The user's tags first; ours win on conflict by coming last. */
    for (size_t i = 0; i < nc->n_tags; i++) {
      keys[k] = nc->tag_keys[i];
      vals[k++] = nc->tag_values[i];
    }
    keys[k] = ckey ? ckey : "";
    vals[k++] = "owned";
    keys[k] = TAG_NODEPOOL;
    vals[k++] = claim->nodepool ? claim->nodepool : "";
    keys[k] = TAG_NODECLASS;
    vals[k++] = nc->name ? nc->name : "";
    keys[k] = TAG_NODECLASS_HASH;
    vals[k++] = nc->hash;
    keys[k] = "eks:eks-cluster-name";
    vals[k++] = s->cluster;
    add_tag_spec(p, 1, "instance", k, keys, vals, "");
    add_tag_spec(p, 2, "volume", k, keys, vals, "");
    add_tag_spec(p, 3, "fleet", k, keys, vals, "");
  }
  free(keys);
  free(vals);
  free(ckey);
}

/* One launched instance of a fleet answer. */
typedef struct fleet_instance {
  char id[32], type[64], zone[32];
} fleet_instance;

/* Reads the fleet answer: up to `max` instances into out (*n_out), and the
 * errorSet, whose capacity errors mark offerings unavailable.  When no
 * instance came back, returns the error naming every failed offering. */
static nw_status fleet_result(aws_state *s, xmlNodePtr root, const char *ct,
                              fleet_instance *out, size_t max, size_t *n_out,
                              nw_error *err) {
  *n_out = 0;
  xmlNodePtr set = nw_aws_xml_child(root, "fleetInstanceSet");
  for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
       it = nw_aws_xml_next(it, "item")) {
    char *t = nw_aws_xml_text(it, "instanceType");
    char *z = nw_aws_xml_text(it, "launchTemplateAndOverrides/overrides/availabilityZone");
    xmlNodePtr ids = nw_aws_xml_child(it, "instanceIds");
    for (xmlNodePtr i = nw_aws_xml_child(ids, "item"); i && *n_out < max;
         i = nw_aws_xml_next(i, "item")) {
      char *id = nw_aws_xml_text(i, NULL);
      if (id && *id) {
        fleet_instance *fi = &out[(*n_out)++];
        snprintf(fi->id, sizeof(fi->id), "%s", id);
        snprintf(fi->type, sizeof(fi->type), "%s", t ? t : "");
        snprintf(fi->zone, sizeof(fi->zone), "%s", z ? z : "");
      }
      free(id);
    }
    free(t);
    free(z);
  }
  nw_aws_buf msg = {0};
  int capacity_only = 1, n_err = 0;
  xmlNodePtr errs = nw_aws_xml_child(root, "errorSet");
  for (xmlNodePtr e = nw_aws_xml_child(errs, "item"); e;
       e = nw_aws_xml_next(e, "item")) {
    char *code = nw_aws_xml_text(e, "errorCode");
    char *t = nw_aws_xml_text(e, "launchTemplateAndOverrides/overrides/instanceType");
    char *z = nw_aws_xml_text(e, "launchTemplateAndOverrides/overrides/availabilityZone");
    char *m = nw_aws_xml_text(e, "errorMessage");
    if (nw_aws_is_capacity_code(code) && t)
      aws_mark_unavailable(s, t, z && *z ? z : NULL, ct);
    else
      capacity_only = 0;
    if (n_err++ < 6)
      nw_aws_buf_printf(&msg, "%s%s/%s/%s: %s (%s)", n_err > 1 ? "; " : "",
                        t ? t : "?", z ? z : "?", ct, code ? code : "error",
                        m ? m : "");
    free(code);
    free(t);
    free(z);
    free(m);
  }
  nw_status st = NW_OK;
  if (*n_out > 0)
    st = NW_OK;
  else if (n_err == 0)
    st = nw_aws_error(err, NW_ERR, "ec2 CreateFleet: no instance and no error");
  else
    st = nw_aws_error(err,
                      capacity_only ? NW_ERR_INSUFFICIENT_CAPACITY : NW_ERR_INVALID,
                      "ec2 CreateFleet: %s", msg.data ? msg.data : "");
  nw_aws_buf_free(&msg);
  return st;
}

/* ------------------------------------------------------------ batching */

/*
 * Concurrent creates whose fleet requests are identical (same launch
 * templates, overrides and tags) share one CreateFleet with a target of
 * one instance per claim, as Karpenter batches them: the first caller
 * waits until no other joined for 35 ms, or 1 s in all (config
 * create_batch_idle_ms / create_batch_max_ms), then launches for
 * everyone and tags each instance with its claim.  Windows are counted in
 * sleeps, not read from a clock, so a virtual clock cannot stall them.
 */
enum { BATCH_MAX = 50, BATCH_STEP_MS = 5 };

typedef struct fleet_slot {
  char claim[256];
  nw_status st;
  fleet_instance inst;
  int whole_call;            /* CreateFleet itself failed (not errorSet) */
  char message[512];
} fleet_slot;

typedef struct fleet_batch {
  struct fleet_batch *next;
  char key[65];
  int closed, done;
  size_t n, refs;
  unsigned joins;
  pthread_cond_t cv;
  fleet_slot slots[BATCH_MAX];
} fleet_batch;

static void batch_release(aws_state *s, fleet_batch *b) {
  /* Called with bmu held. */
  if (--b->refs > 0)
    return;
  fleet_batch **pp = (fleet_batch **)&s->batches;
  while (*pp && *pp != b)
    pp = &(*pp)->next;
  if (*pp)
    *pp = b->next;
  pthread_cond_destroy(&b->cv);
  free(b);
}

static void sleep_ms(int ms) {
  struct timespec ts = {0, (long)ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* The leader's wait, called and returning with bmu held: until no other
 * caller joined (*joins unchanged) for the idle window, the max window
 * passed, or the batch is full; then *closed is set. */
static void batch_window(aws_state *s, int *closed, const unsigned *joins,
                         const size_t *n, size_t max) {
  unsigned seen = *joins;
  int idle = 0, total = 0;
  while (!*closed) {
    pthread_mutex_unlock(&s->bmu);
    sleep_ms(BATCH_STEP_MS);
    total += BATCH_STEP_MS;
    pthread_mutex_lock(&s->bmu);
    idle = *joins != seen ? 0 : idle + BATCH_STEP_MS;
    seen = *joins;
    if (idle >= s->batch_idle_ms || total >= s->batch_max_ms || *n >= max)
      *closed = 1;
  }
}

/* Tags the instance with its claim; on failure the instance is terminated
 * (an untagged instance would be launched again for the same claim). */
static nw_status tag_claim(aws_state *s, const fleet_instance *fi,
                           const char *claim, nw_arena *arena, nw_error *err) {
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "ResourceId.1", fi->id);
  nw_aws_params_add(&p, "Tag.1.Key", TAG_CLAIM);
  nw_aws_params_add(&p, "Tag.1.Value", claim);
  xmlDocPtr doc = NULL;
  nw_status st = nw_aws_query(s->client, "ec2", "CreateTags", EC2_VERSION, &p,
                              arena, &doc, NULL, err);
  nw_aws_params_free(&p);
  xmlFreeDoc(doc);
  if (st == NW_OK)
    return NW_OK;
  char pid[96];
  snprintf(pid, sizeof(pid), "aws:///%s/%s", fi->zone, fi->id);
  nw_error terr = {0};
  aws_delete(s, pid, &terr);
  return st;
}

/*
 * Concurrent get and delete calls are coalesced the same way: one
 * DescribeInstances (filter instance-id, so a missing id is simply absent)
 * or one TerminateInstances for every id that joined within the windows,
 * each caller then taking its own instance from the shared answer.  A
 * TerminateInstances naming an id EC2 does not know fails as a whole
 * (InvalidInstanceID.NotFound); the ids are then terminated one by one so
 * the others still go.
 */
enum { ID_BATCH_MAX = 100 };

typedef struct id_slot {
  char id[32];
  nw_status st;
  char message[256];
  xmlNodePtr item;           /* DescribeInstances: the instance, or NULL */
} id_slot;

struct id_batch {
  id_batch *next;
  id_op op;
  int closed, done;
  size_t n, refs;
  unsigned joins;
  pthread_cond_t cv;
  xmlDocPtr doc;             /* DescribeInstances' answer, freed by the last */
  id_slot slots[ID_BATCH_MAX];
};

/* Terminates the given ids in one call; fills the slots naming them. */
static nw_status terminate_ids(aws_state *s, id_slot *slots, size_t n,
                               nw_error *err) {
  nw_aws_params p = {0};
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int dup = 0;
    for (size_t j = 0; j < i && !dup; j++)
      dup = strcmp(slots[j].id, slots[i].id) == 0;
    if (!dup)
      nw_aws_params_addf(&p, slots[i].id, "InstanceId.%zu", ++k);
  }
  xmlDocPtr doc = NULL;
  nw_status st = nw_aws_query(s->client, "ec2", "TerminateInstances",
                              EC2_VERSION, &p, NULL, &doc, NULL, err);
  nw_aws_params_free(&p);
  if (st != NW_OK)
    return st;
  xmlNodePtr set = nw_aws_xml_child(xmlDocGetRootElement(doc), "instancesSet");
  for (size_t i = 0; i < n; i++) {
    slots[i].st = NW_ERR;
    snprintf(slots[i].message, sizeof(slots[i].message),
             "ec2 TerminateInstances: %s missing from the answer", slots[i].id);
  }
  for (xmlNodePtr it = nw_aws_xml_child(set, "item"); it;
       it = nw_aws_xml_next(it, "item")) {
    char *id = nw_aws_xml_text(it, "instanceId");
    char *prev = nw_aws_xml_text(it, "previousState/name");
    int gone = prev && strcmp(prev, "terminated") == 0;
    for (size_t i = 0; id && i < n; i++) {
      if (strcmp(slots[i].id, id) != 0)
        continue;
      slots[i].st = gone ? NW_ERR_NOT_FOUND : NW_OK;
      slots[i].message[0] = '\0';
      if (gone)
        snprintf(slots[i].message, sizeof(slots[i].message),
                 "aws: instance %s already terminated", id);
    }
    free(id);
    free(prev);
  }
  xmlFreeDoc(doc);
  return NW_OK;
}

static void leader_terminate(aws_state *s, id_batch *b) {
  nw_error err = {0};
  nw_status st = terminate_ids(s, b->slots, b->n, &err);
  if (st == NW_ERR_NOT_FOUND && b->n > 1) {
    for (size_t i = 0; i < b->n; i++) {
      nw_error e1 = {0};
      nw_status s1 = terminate_ids(s, &b->slots[i], 1, &e1);
      if (s1 != NW_OK) {
        b->slots[i].st = s1;
        snprintf(b->slots[i].message, sizeof(b->slots[i].message), "%s",
                 e1.message);
      }
    }
    return;
  }
  for (size_t i = 0; st != NW_OK && i < b->n; i++) {
    b->slots[i].st = st;
    snprintf(b->slots[i].message, sizeof(b->slots[i].message), "%s",
             err.message);
  }
}

/* One DescribeInstances for every id; each slot gets its item (terminated
 * instances count as missing, as a single get would say). */
static void leader_describe(aws_state *s, id_batch *b, nw_arena *arena) {
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "Filter.1.Name", "instance-id");
  for (size_t i = 0; i < b->n; i++)
    nw_aws_params_addf(&p, b->slots[i].id, "Filter.1.Value.%zu", i + 1);
  nw_error err = {0};
  nw_status st = nw_aws_query(s->client, "ec2", "DescribeInstances",
                              EC2_VERSION, &p, arena, &b->doc, NULL, &err);
  nw_aws_params_free(&p);
  for (size_t i = 0; i < b->n; i++) {
    id_slot *sl = &b->slots[i];
    sl->st = st == NW_OK ? NW_ERR_NOT_FOUND : st;
    /* A copy: GCC cannot tell that id and message of a slot are apart. */
    char id[sizeof(sl->id)];
    memcpy(id, sl->id, sizeof(id));
    if (st == NW_OK)
      snprintf(sl->message, sizeof(sl->message), "aws: instance %s not found",
               id);
    else
      snprintf(sl->message, sizeof(sl->message), "%s", err.message);
  }
  if (st != NW_OK)
    return;
  xmlNodePtr rs = nw_aws_xml_child(xmlDocGetRootElement(b->doc), "reservationSet");
  for (xmlNodePtr r = nw_aws_xml_child(rs, "item"); r; r = nw_aws_xml_next(r, "item")) {
    xmlNodePtr is = nw_aws_xml_child(r, "instancesSet");
    for (xmlNodePtr it = nw_aws_xml_child(is, "item"); it;
         it = nw_aws_xml_next(it, "item")) {
      char *id = nw_aws_xml_text(it, "instanceId");
      char *state = nw_aws_xml_text(it, "instanceState/name");
      int live = !state || strcmp(state, "terminated") != 0;
      for (size_t i = 0; id && live && i < b->n; i++) {
        if (strcmp(b->slots[i].id, id) == 0) {
          b->slots[i].st = NW_OK;
          b->slots[i].item = it;
        }
      }
      free(id);
      free(state);
    }
  }
  s->host->observe(s->h, "aws_describe_instances_batch_size", NULL, (double)b->n);
}

static void id_batch_release(aws_state *s, id_batch *b) {
  /* Called with bmu held. */
  if (--b->refs > 0)
    return;
  id_batch **pp = (id_batch **)&s->id_batches;
  while (*pp && *pp != b)
    pp = &(*pp)->next;
  if (*pp)
    *pp = b->next;
  xmlFreeDoc(b->doc);
  pthread_cond_destroy(&b->cv);
  free(b);
}

/* Joins (or opens and leads) the open batch of `op`.  For ID_DESCRIBE,
 * *out is filled in the caller's arena. */
static nw_status id_batched(aws_state *s, id_op op, const char *id,
                            nw_arena *arena, nw_node_instance *out,
                            nw_error *err) {
  pthread_mutex_lock(&s->bmu);
  id_batch *b = s->id_batches;
  while (b && (b->closed || b->op != op || b->n >= ID_BATCH_MAX))
    b = b->next;
  int leader = b == NULL;
  if (leader) {
    b = calloc(1, sizeof(*b));
    if (!b) {
      pthread_mutex_unlock(&s->bmu);
      return nw_aws_error(err, NW_ERR, "aws: out of memory");
    }
    b->op = op;
    pthread_cond_init(&b->cv, NULL);
    b->next = s->id_batches;
    s->id_batches = b;
  }
  size_t idx = b->n++;
  b->refs++;
  b->joins++;
  snprintf(b->slots[idx].id, sizeof(b->slots[idx].id), "%s", id);
  if (leader) {
    batch_window(s, &b->closed, &b->joins, &b->n, ID_BATCH_MAX);
    pthread_mutex_unlock(&s->bmu);
    if (op == ID_TERMINATE)
      leader_terminate(s, b);
    else
      leader_describe(s, b, arena);
    pthread_mutex_lock(&s->bmu);
    b->done = 1;
    pthread_cond_broadcast(&b->cv);
  }
  while (!b->done)
    pthread_cond_wait(&b->cv, &s->bmu);
  pthread_mutex_unlock(&s->bmu);
  /* The answer is only read from here on (libxml2 trees are safe to read
   * from several threads); the batch stays until every caller released. */
  id_slot *sl = &b->slots[idx];
  nw_status st = sl->st;
  if (st == NW_OK && op == ID_DESCRIBE)
    parse_instance(s, arena, sl->item, out);
  else if (st != NW_OK)
    nw_aws_error(err, st, "%s", sl->message);
  pthread_mutex_lock(&s->bmu);
  id_batch_release(s, b);
  pthread_mutex_unlock(&s->bmu);
  return st;
}

static void leader_launch(aws_state *s, fleet_batch *b, const nw_aws_params *base,
                          const char *ct, nw_arena *arena) {
  nw_aws_params p = {0};
  for (size_t i = 0; i < base->len; i++)
    nw_aws_params_add(&p, base->names[i], base->values[i]);
  char total[16];
  snprintf(total, sizeof(total), "%zu", b->n);
  nw_aws_params_add(&p, "TargetCapacitySpecification.TotalTargetCapacity", total);
  xmlDocPtr doc = NULL;
  nw_error err = {0};
  nw_status st = nw_aws_query(s->client, "ec2", "CreateFleet", EC2_VERSION, &p,
                              arena, &doc, NULL, &err);
  nw_aws_params_free(&p);
  int whole_call = st != NW_OK;
  fleet_instance got[BATCH_MAX];
  size_t n_got = 0;
  if (st == NW_OK)
    st = fleet_result(s, xmlDocGetRootElement(doc), ct, got, BATCH_MAX, &n_got,
                      &err);
  xmlFreeDoc(doc);
  s->host->observe(s->h, "aws_create_fleet_batch_size", NULL, (double)b->n);
  for (size_t k = 0; k < b->n; k++) {
    fleet_slot *sl = &b->slots[k];
    if (k < n_got) {
      nw_error terr = {0};
      sl->inst = got[k];
      sl->st = tag_claim(s, &got[k], sl->claim, arena, &terr);
      snprintf(sl->message, sizeof(sl->message), "%s", terr.message);
    } else if (st != NW_OK) {
      sl->st = st;
      sl->whole_call = whole_call;
      snprintf(sl->message, sizeof(sl->message), "%s", err.message);
    } else {
      sl->st = NW_ERR_INSUFFICIENT_CAPACITY;
      snprintf(sl->message, sizeof(sl->message),
               "ec2 CreateFleet: %zu of %zu instances launched", n_got, b->n);
    }
  }
}

static nw_status fleet_batched(aws_state *s, const nw_aws_params *p,
                               const char *ct, const char *claim,
                               nw_arena *arena, fleet_instance *out,
                               int *whole_call, nw_error *err) {
  nw_aws_buf content = {0};
  for (size_t i = 0; i < p->len; i++)
    nw_aws_buf_printf(&content, "%s=%s\n", p->names[i], p->values[i]);
  char key[65];
  nw_aws_sha256_hex(content.data ? content.data : "", content.len, key);
  nw_aws_buf_free(&content);

  pthread_mutex_lock(&s->bmu);
  fleet_batch *b = s->batches;
  while (b && (b->closed || strcmp(b->key, key) != 0 || b->n >= BATCH_MAX))
    b = b->next;
  size_t idx;
  int leader = b == NULL;
  if (leader) {
    b = calloc(1, sizeof(*b));
    if (!b) {
      pthread_mutex_unlock(&s->bmu);
      return nw_aws_error(err, NW_ERR, "aws: out of memory");
    }
    snprintf(b->key, sizeof(b->key), "%s", key);
    pthread_cond_init(&b->cv, NULL);
    b->next = s->batches;
    s->batches = b;
  }
  idx = b->n++;
  b->refs++;
  b->joins++;
  snprintf(b->slots[idx].claim, sizeof(b->slots[idx].claim), "%s", claim);
  if (leader) {
    batch_window(s, &b->closed, &b->joins, &b->n, BATCH_MAX);
    pthread_mutex_unlock(&s->bmu);
    leader_launch(s, b, p, ct, arena);
    pthread_mutex_lock(&s->bmu);
    b->done = 1;
    pthread_cond_broadcast(&b->cv);
  }
  while (!b->done)
    pthread_cond_wait(&b->cv, &s->bmu);
  fleet_slot sl = b->slots[idx];
  batch_release(s, b);
  pthread_mutex_unlock(&s->bmu);
  *out = sl.inst;
  *whole_call = sl.whole_call;
  if (sl.st != NW_OK)
    return nw_aws_error(err, sl.st, "%s", sl.message);
  return NW_OK;
}

static void fill_created(aws_state *s, nw_arena *arena, const nw_node_claim *claim,
                         const char *id, const aws_itype *t, const char *zone,
                         const char *ct, const char *image,
                         nw_node_instance *out) {
  memset(out, 0, sizeof(*out));
  char pid[128];
  snprintf(pid, sizeof(pid), "aws:///%s/%s", zone, id);
  out->provider_id = adup(s, arena, pid);
  out->claim_name = adup(s, arena, claim->name);
  out->nodepool = adup(s, arena, claim->nodepool);
  out->instance_type = adup(s, arena, t->name);
  out->zone = adup(s, arena, zone);
  out->capacity_type = ct;
  out->image_id = adup(s, arena, image);
  out->state = NW_INSTANCE_PENDING;
  out->created_at_ms = s->host->now_ms(s->h);
  instance_labels(s, arena, t, zone, ct, claim->nodepool, &out->labels);
  instance_resources(s, arena, t, out);
  aws_remember_instance(s, id, zone);
}

static nw_status launch(aws_state *s, const nw_node_claim *claim,
                        const aws_node_class *nc, const aws_resolved *r,
                        nw_arena *arena, nw_node_instance *out,
                        nw_error *err) {
  size_t max = s->catalog.len * 16 + 1;
  candidate *cands = calloc(max, sizeof(*cands));
  if (!cands)
    return nw_aws_error(err, NW_ERR, "aws: out of memory");
  pthread_mutex_lock(&s->mu);
  size_t n = candidates(s, claim, r, cands, max);
  pthread_mutex_unlock(&s->mu);
  /* Spot when the claim allows it and some spot offering is available,
   * as Karpenter does; otherwise on-demand. */
  int spot = 0;
  for (size_t i = 0; i < n; i++)
    spot |= strcmp(cands[i].ct, NW_CAPACITY_SPOT) == 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if ((strcmp(cands[i].ct, NW_CAPACITY_SPOT) == 0) == spot)
      cands[k++] = cands[i];
  n = k;
  if (n == 0) {
    free(cands);
    return nw_aws_error(err, NW_ERR_INSUFFICIENT_CAPACITY,
                        "aws: no available offering satisfies claim %s "
                        "(instance types x zones x capacity types, after "
                        "recent capacity errors)",
                        claim->name);
  }
  qsort(cands, n, sizeof(*cands), cmp_candidate);
  if (n > MAX_OVERRIDES)
    n = MAX_OVERRIDES;
  lt_sweep(s, arena);
  pthread_rwlock_rdlock(&s->lt_lock);

  const char *archs[2];
  char lt_ids[2][64];
  const char *lt_ptrs[2];
  size_t n_archs = 0;
  nw_status st = NW_OK;
  for (size_t i = 0; i < n && st == NW_OK; i++) {
    int seen = 0;
    for (size_t a = 0; a < n_archs; a++)
      seen |= strcmp(archs[a], cands[i].type->arch) == 0;
    if (seen || n_archs == 2)
      continue;
    const aws_ami *ami = ami_for(r, cands[i].type->arch);
    /* User data carries max pods: the smallest among the overrides of
     * this architecture keeps every type within its ENI limit. */
    int64_t max_pods = 0;
    for (size_t j = 0; j < n; j++) {
      if (strcmp(cands[j].type->arch, cands[i].type->arch) != 0)
        continue;
      aws_capacity c;
      aws_capacity_compute(cands[j].type, &nc->kubelet, s->vm_overhead, 0, &c);
      if (max_pods == 0 || c.pods < max_pods)
        max_pods = c.pods;
    }
    st = ensure_lt(s, nc, r, ami, claim, max_pods, arena, lt_ids[n_archs],
                   sizeof(lt_ids[0]), err);
    archs[n_archs] = cands[i].type->arch;
    lt_ptrs[n_archs] = lt_ids[n_archs];
    n_archs++;
  }
  if (st == NW_OK) {
    nw_aws_params p = {0};
    fleet_params(s, claim, nc, cands, n, lt_ptrs, archs, n_archs, &p);
    fleet_instance fi;
    int whole_call = 0;
    st = fleet_batched(s, &p, cands[0].ct, claim->name, arena, &fi,
                       &whole_call, err);
    nw_aws_params_free(&p);
    if (st == NW_ERR_NOT_FOUND && whole_call) {
      /* InvalidLaunchTemplateId.NotFound: someone deleted a template we
       * had cached.  Forget them; the retry makes them again. */
      lt_forget_all(s);
      st = NW_ERR_RETRYABLE;
      if (err)
        err->status = st;
    }
    if (st == NW_ERR_INSUFFICIENT_CAPACITY && whole_call) {
      /* A whole-call capacity error: every override is out for now. */
      for (size_t i = 0; i < n; i++)
        aws_mark_unavailable(s, cands[i].type->name, cands[i].zone, cands[i].ct);
    }
    if (st == NW_OK) {
      const candidate *pick = &cands[0];
      for (size_t i = 0; i < n; i++)
        if (strcmp(cands[i].type->name, fi.type) == 0 &&
            (!fi.zone[0] || strcmp(cands[i].zone, fi.zone) == 0)) {
          pick = &cands[i];
          break;
        }
      const aws_itype *t = pick->type;
      fill_created(s, arena, claim, fi.id, t, pick->zone, pick->ct,
                   ami_for(r, t->arch)->id, out);
      s->host->counter_add(s->h, "aws_instances_launched_total", NULL, 1);
      s->host->log(s->h, NW_LOG_INFO, "claim %s: launched %s (%s, %s, %s)",
                   claim->name, fi.id, t->name, pick->zone, pick->ct);
    }
  }
  pthread_rwlock_unlock(&s->lt_lock);
  free(cands);
  return st;
}

nw_status aws_create(aws_state *s, const nw_node_claim *claim, nw_arena *arena,
                     nw_node_instance *out, nw_error *err) {
  if (!claim || !claim->name)
    return nw_aws_error(err, NW_ERR_INVALID, "aws: claim without a name");
  if (!claim->node_class_json)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "aws: claim %s has no EC2NodeClass", claim->name);
  existing_ctx ex;
  nw_status st = aws_catalog_refresh(s, arena, err);
  if (st == NW_OK)
    st = find_claim_instance(s, claim, arena, &ex, err);
  if (st != NW_OK)
    return st;
  if (ex.found) {
    *out = ex.inst;
    return NW_OK;
  }
  aws_node_class nc;
  st = aws_node_class_parse(claim->node_class_json, &nc, err);
  if (st != NW_OK)
    return st;
  aws_resolved *r = calloc(1, sizeof(*r));
  st = r ? resolve_cached(s, &nc, arena, r, err)
         : nw_aws_error(err, NW_ERR, "aws: out of memory");
  if (st == NW_OK && nc.role && !nc.instance_profile)
    st = ensure_instance_profile(s, &nc, arena, r, err);
  if (st == NW_OK)
    st = launch(s, claim, &nc, r, arena, out, err);
  free(r);
  aws_node_class_free(&nc);
  return st;
}

/* -------------------------------------------------------------- drift */

typedef struct drift_ctx {
  char image[32];
  char subnet[32];
  char sgs[16][32];
  size_t n_sgs;
  char hash[32];
  int found;
} drift_ctx;

static void drift_collect(aws_state *s, nw_arena *a, xmlNodePtr it,
                          void *user) {
  (void)s;
  (void)a;
  drift_ctx *d = user;
  d->found = 1;
  char *v = nw_aws_xml_text(it, "imageId");
  snprintf(d->image, sizeof(d->image), "%s", v ? v : "");
  free(v);
  v = nw_aws_xml_text(it, "subnetId");
  snprintf(d->subnet, sizeof(d->subnet), "%s", v ? v : "");
  free(v);
  xmlNodePtr gs = nw_aws_xml_child(it, "groupSet");
  for (xmlNodePtr g = nw_aws_xml_child(gs, "item"); g && d->n_sgs < 16;
       g = nw_aws_xml_next(g, "item")) {
    v = nw_aws_xml_text(g, "groupId");
    snprintf(d->sgs[d->n_sgs++], sizeof(d->sgs[0]), "%s", v ? v : "");
    free(v);
  }
  xmlNodePtr tags = nw_aws_xml_child(it, "tagSet");
  for (xmlNodePtr tg = nw_aws_xml_child(tags, "item"); tg;
       tg = nw_aws_xml_next(tg, "item")) {
    char *k = nw_aws_xml_text(tg, "key");
    if (k && strcmp(k, TAG_NODECLASS_HASH) == 0) {
      v = nw_aws_xml_text(tg, "value");
      snprintf(d->hash, sizeof(d->hash), "%s", v ? v : "");
      free(v);
    }
    free(k);
  }
}

nw_status aws_is_drifted(aws_state *s, const nw_node_instance *inst,
                         const char *node_class_json, nw_arena *arena,
                         const char **reason, nw_error *err) {
  *reason = NULL;
  if (!node_class_json)
    return NW_OK;
  char idbuf[32];
  const char *id = aws_instance_id(inst->provider_id, idbuf);
  if (!id)
    return nw_aws_error(err, NW_ERR_INVALID, "aws: bad provider id");
  aws_node_class nc;
  nw_status st = aws_node_class_parse(node_class_json, &nc, err);
  if (st != NW_OK)
    return st;
  aws_resolved *r = calloc(1, sizeof(*r));
  drift_ctx d = {0};
  st = r ? resolve_cached(s, &nc, arena, r, err)
         : nw_aws_error(err, NW_ERR, "aws: out of memory");
  if (st == NW_OK) {
    nw_aws_params p = {0};
    nw_aws_params_add(&p, "InstanceId.1", id);
    st = describe_instances(s, &p, arena, drift_collect, &d, err);
    nw_aws_params_free(&p);
  }
  if (st == NW_OK && !d.found)
    st = nw_aws_error(err, NW_ERR_NOT_FOUND, "aws: instance %s not found", id);
  if (st == NW_OK) {
    int ami_ok = 0, subnet_ok = 0, sg_ok = d.n_sgs == r->n_sgs;
    for (size_t i = 0; i < r->n_amis; i++)
      ami_ok |= strcmp(r->amis[i].id, d.image) == 0;
    for (size_t i = 0; i < r->n_subnets; i++)
      subnet_ok |= strcmp(r->subnets[i].id, d.subnet) == 0;
    for (size_t i = 0; sg_ok && i < d.n_sgs; i++) {
      int in = 0;
      for (size_t j = 0; j < r->n_sgs; j++)
        in |= strcmp(d.sgs[i], r->sgs[j]) == 0;
      sg_ok = in;
    }
    /* Karpenter's order: resolved values first, then the static spec. */
    if (!ami_ok)
      *reason = adup(s, arena, "AMIDrift");
    else if (!subnet_ok)
      *reason = adup(s, arena, "SubnetDrift");
    else if (!sg_ok)
      *reason = adup(s, arena, "SecurityGroupDrift");
    else if (d.hash[0] && strcmp(d.hash, nc.hash) != 0)
      *reason = adup(s, arena, "NodeClassDrift");
  }
  free(r);
  aws_node_class_free(&nc);
  return st;
}

/* ------------------------------------------- registration, node class */

nw_status aws_registered(aws_state *s, const char *provider_id,
                         const char *claim_name, const char *node_name,
                         nw_error *err) {
  char idbuf[32];
  const char *id = aws_instance_id(provider_id, idbuf);
  if (!id || !node_name)
    return nw_aws_error(err, NW_ERR_INVALID,
                        "aws: registered: %s is not an AWS provider id",
                        provider_id ? provider_id : "(null)");
  /* As Karpenter's tagging controller: the node's name, and the claim. */
  nw_aws_params p = {0};
  nw_aws_params_add(&p, "ResourceId.1", id);
  nw_aws_params_add(&p, "Tag.1.Key", "Name");
  nw_aws_params_add(&p, "Tag.1.Value", node_name);
  if (claim_name) {
    nw_aws_params_add(&p, "Tag.2.Key", TAG_CLAIM);
    nw_aws_params_add(&p, "Tag.2.Value", claim_name);
  }
  xmlDocPtr doc = NULL;
  nw_status st = nw_aws_query(s->client, "ec2", "CreateTags", EC2_VERSION, &p,
                              NULL, &doc, NULL, err);
  nw_aws_params_free(&p);
  xmlFreeDoc(doc);
  return st;
}

/* A condition as Karpenter writes them; the host fills the times. */
static json_t *condition(const char *type, int ok, const char *reason,
                         const char *message) {
  return json_pack("{s:s,s:s,s:s,s:s}", "type", type, "status",
                   ok ? "True" : "False", "reason", reason, "message",
                   message ? message : "");
}

/* Which condition a resolution error belongs to, from its message. */
static const char *failed_condition(const char *message) {
  if (strstr(message, "subnet"))
    return "SubnetsReady";
  if (strstr(message, "securityGroup") || strstr(message, "security group"))
    return "SecurityGroupsReady";
  if (strstr(message, "ami") || strstr(message, "image") ||
      strstr(message, "SSM") || strstr(message, "ssm"))
    return "AMIsReady";
  if (strstr(message, "iam") || strstr(message, "nstanceProfile") ||
      strstr(message, "role"))
    return "InstanceProfileReady";
  return "ValidationSucceeded";
}

static json_t *resolved_json(const aws_node_class *nc, const aws_resolved *r) {
  json_t *st = json_object();
  json_t *subnets = json_array();
  for (size_t i = 0; i < r->n_subnets; i++)
    json_array_append_new(subnets, json_pack("{s:s,s:s}", "id", r->subnets[i].id,
                                             "zone", r->subnets[i].zone));
  json_object_set_new(st, "subnets", subnets);
  json_t *sgs = json_array();
  for (size_t i = 0; i < r->n_sgs; i++)
    json_array_append_new(sgs, json_pack("{s:s}", "id", r->sgs[i]));
  json_object_set_new(st, "securityGroups", sgs);
  json_t *amis = json_array();
  for (size_t i = 0; i < r->n_amis; i++)
    json_array_append_new(amis, json_pack(
        "{s:s,s:[{s:s,s:s,s:[s]}]}", "id", r->amis[i].id, "requirements",
        "key", "kubernetes.io/arch", "operator", "In", "values", r->amis[i].arch));
  json_object_set_new(st, "amis", amis);
  const char *profile = r->instance_profile[0] ? r->instance_profile
                                               : nc->instance_profile;
  if (profile)
    json_object_set_new(st, "instanceProfile", json_string(profile));
  return st;
}

nw_status aws_node_class_status(aws_state *s, const char *node_class_json,
                                nw_arena *arena, const char **status_json,
                                nw_error *err) {
  aws_node_class nc;
  nw_error perr = {0};
  nw_status st = aws_node_class_parse(node_class_json, &nc, &perr);
  json_t *out = NULL;
  if (st == NW_OK) {
    aws_resolved *r = calloc(1, sizeof(*r));
    if (!r) {
      aws_node_class_free(&nc);
      return nw_aws_error(err, NW_ERR, "aws: out of memory");
    }
    st = resolve_cached(s, &nc, arena, r, &perr);
    if (st == NW_OK && nc.role && !nc.instance_profile)
      st = ensure_instance_profile(s, &nc, arena, r, &perr);
    if (st == NW_OK) {
      out = resolved_json(&nc, r);
      json_t *conds = json_array();
      static const char *const parts[] = {"SubnetsReady", "SecurityGroupsReady",
                                          "AMIsReady", "InstanceProfileReady",
                                          "ValidationSucceeded", "Ready"};
      for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        json_array_append_new(conds, condition(parts[i], 1, parts[i], ""));
      json_object_set_new(out, "conditions", conds);
    }
    free(r);
    aws_node_class_free(&nc);
  }
  /* Throttling, network and credentials say nothing about the class: the
   * host keeps the status it has. */
  if (st != NW_OK && st != NW_ERR_INVALID && st != NW_ERR_NOT_FOUND)
    return nw_aws_error(err, st, "%s", perr.message);
  if (!out) {
    const char *part = failed_condition(perr.message);
    out = json_pack("{s:[o,o]}", "conditions",
                    condition(part, 0, "ResolutionFailed", perr.message),
                    condition("Ready", 0, "NodeClassNotReady", perr.message));
  }
  char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(out);
  *status_json = text ? s->host->arena_strdup(arena, text) : NULL;
  free(text);
  return *status_json ? NW_OK : nw_aws_error(err, NW_ERR, "aws: out of memory");
}
