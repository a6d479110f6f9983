/* runenv.c: the CI run, AWS origin and host of a root segment (see runenv.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runenv.h"
#include "util.h"

/* A CI system: the variable that says it is running, and where each fact is. */
struct ci {
	const char *provider, *marker;
	const char *repository, *workflow, *job, *run_id, *commit, *branch;
};

/* Fields a system does not have are NULL; "A|B" means A, else B. */
static const struct ci cis[] = {
	{ "github-actions", "GITHUB_ACTIONS=true", "GITHUB_REPOSITORY", "GITHUB_WORKFLOW",
	    "GITHUB_JOB", "GITHUB_RUN_ID", "GITHUB_SHA", "GITHUB_REF_NAME" },
	{ "gitlab-ci", "GITLAB_CI=true", "CI_PROJECT_PATH", "CI_PIPELINE_NAME", "CI_JOB_NAME",
	    "CI_PIPELINE_ID", "CI_COMMIT_SHA", "CI_COMMIT_REF_NAME" },
	{ "circleci", "CIRCLECI=true", NULL, NULL, "CIRCLE_JOB", "CIRCLE_WORKFLOW_ID",
	    "CIRCLE_SHA1", "CIRCLE_BRANCH" },
	{ "buildkite", "BUILDKITE=true", "BUILDKITE_REPO", "BUILDKITE_PIPELINE_SLUG",
	    "BUILDKITE_LABEL", "BUILDKITE_BUILD_ID", "BUILDKITE_COMMIT", "BUILDKITE_BRANCH" },
	{ "jenkins", "JENKINS_URL", "GIT_URL", "JOB_NAME", "STAGE_NAME", "BUILD_TAG",
	    "GIT_COMMIT", "BRANCH_NAME|GIT_BRANCH" },
	{ "codebuild", "CODEBUILD_BUILD_ID", "CODEBUILD_SOURCE_REPO_URL", NULL, NULL,
	    "CODEBUILD_BUILD_ID", "CODEBUILD_RESOLVED_SOURCE_VERSION",
	    "CODEBUILD_WEBHOOK_HEAD_REF" },
};

/* A CI's marker: "NAME=value" must have that value, "NAME" any. */
static int
marked(const char *marker)
{
	const char *eq = strchr(marker, '='), *v;
	char name[64];

	snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - marker) : (int)strlen(marker), marker);
	v = getenv(name);
	return v && *v && (eq == NULL || strcmp(v, eq + 1) == 0);
}

/* The value of the first set variable of "A|B", or NULL. */
static const char *
lookup(const char *names)
{
	char name[64];
	const char *v;

	while (names && *names) {
		size_t n = strcspn(names, "|");

		snprintf(name, sizeof(name), "%.*s", (int)n, names);
		if ((v = getenv(name)) != NULL && *v)
			return v;
		names += n + (names[n] == '|');
	}
	return NULL;
}

/* An annotation of a fact that is there (segdoc_annotate cuts what is too long). */
static void
annotate(struct segdoc *d, const char *key, const char *value)
{
	if (value && *value)
		segdoc_annotate(d, key, ANNOT_STRING, value);
}

static void
describe_ci(struct segdoc *d)
{
	for (size_t i = 0; i < sizeof(cis) / sizeof(cis[0]); i++) {
		const struct ci *c = &cis[i];
		char *project = NULL;

		if (!marked(c->marker))
			continue;
		annotate(d, "ci_provider", c->provider);
		annotate(d, "ci_repository", lookup(c->repository));
		if (c->repository == NULL && lookup("CIRCLE_PROJECT_REPONAME")) {
			project = xasprintf("%s/%s", lookup("CIRCLE_PROJECT_USERNAME") ?
			    lookup("CIRCLE_PROJECT_USERNAME") : "", lookup("CIRCLE_PROJECT_REPONAME"));
			annotate(d, "ci_repository", project[0] == '/' ? project + 1 : project);
			free(project);
		}
		if (c->workflow == NULL && strcmp(c->provider, "codebuild") == 0) {
			/* CodeBuild's build id is "project:uuid". */
			const char *id = lookup(c->run_id);

			project = xasprintf("%.*s", (int)strcspn(id, ":"), id);
			annotate(d, "ci_workflow", project);
			free(project);
		}
		annotate(d, "ci_workflow", lookup(c->workflow));
		annotate(d, "ci_job", lookup(c->job));
		annotate(d, "ci_run_id", lookup(c->run_id));
		annotate(d, "ci_commit", lookup(c->commit));
		annotate(d, "ci_branch", lookup(c->branch));
		return;
	}
}

/* The first line of a small file, or "" (the buffer is out's). */
static char *
first_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");

	out[0] = '\0';
	if (f) {
		if (fgets(out, (int)len, f) == NULL)
			out[0] = '\0';
		fclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* The AWS compute a process runs on, from what it can see without a network call. */
static void
describe_origin(struct seg_service *v, char *asset, size_t len)
{
	char vendor[64];

	if (lookup("ECS_CONTAINER_METADATA_URI_V4|ECS_CONTAINER_METADATA_URI")) {
		v->origin = "AWS::ECS::Container";
	} else if (access("/var/elasticbeanstalk/xray/environment.conf", F_OK) == 0) {
		v->origin = "AWS::ElasticBeanstalk::Environment";
	} else if (strcmp(first_line("/sys/devices/virtual/dmi/id/sys_vendor", vendor,
	    sizeof(vendor)), "Amazon EC2") == 0) {
		v->origin = "AWS::EC2::Instance";
		/* Nitro instances carry their instance id as the board's asset tag. */
		if (strncmp(first_line("/sys/devices/virtual/dmi/id/board_asset_tag", asset,
		    len), "i-", 2) == 0)
			v->instance_id = asset;
	}
}

void
runenv_describe(struct segdoc *d, const char *service_version)
{
	struct seg_service v = { NULL, service_version, NULL };
	char host[256], asset[64];

	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		annotate(d, "host", host);
	}
	describe_ci(d);
	describe_origin(&v, asset, sizeof(asset));
	segdoc_set_service(d, &v);
}
