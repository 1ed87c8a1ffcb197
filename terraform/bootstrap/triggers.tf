# Two triggers per environment. CI runs cloudbuild.yaml as gatehouse-ci on every
# push to the branch: tests, scanners, the image (built, scanned, pushed)
# and the release artifacts. When a CI build succeeds, Cloud Build's status
# message on the cloud-builds topic starts the deploy trigger, which runs
# cloudbuild-deploy.yaml as the deployer on exactly that commit's release:
# migrate, then plan, then apply the saved plan. In prod a person approves
# each deploy build before it starts.

resource "google_cloudbuild_trigger" "ci" {
  project         = var.project_id
  location        = var.region
  name            = "gatehouse-ci"
  description     = "Tests, scanners, image and release artifacts (cloudbuild.yaml)."
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.ci.id

  repository_event_config {
    repository = var.repository
    push {
      branch = "^${var.branch}$"
    }
  }

  substitutions = {
    _REGION = var.region
  }

  depends_on = [google_project_iam_member.ci_logs]
}

resource "google_cloudbuild_trigger" "deploy" {
  project         = var.project_id
  location        = var.region
  name            = "gatehouse-deploy"
  description     = "Migrate and apply the release of a successful CI build (cloudbuild-deploy.yaml)."
  service_account = google_service_account.deployer.id

  pubsub_config {
    topic = google_pubsub_topic.cloud_builds.id
  }

  substitutions = {
    _ENV          = var.env
    _REGION       = var.region
    _BUILD_STATUS = "$(body.message.data.status)"
    _CI_TRIGGER   = "$(body.message.data.buildTriggerId)"
    _COMMIT       = "$(body.message.data.substitutions.COMMIT_SHA)"
    _CI_BUILD     = "$(body.message.data.id)"
  }
  filter = "_BUILD_STATUS == \"SUCCESS\" && _CI_TRIGGER == \"${google_cloudbuild_trigger.ci.trigger_id}\""

  source_to_build {
    repository = var.repository
    ref        = "refs/heads/${var.branch}"
    repo_type  = "GITHUB"
  }

  git_file_source {
    path       = "cloudbuild-deploy.yaml"
    repository = var.repository
    revision   = "refs/heads/${var.branch}"
    repo_type  = "GITHUB"
  }

  approval_config {
    approval_required = var.env == "prod"
  }

  depends_on = [google_project_iam_member.deployer]
}
