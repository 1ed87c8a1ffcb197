resource "google_kms_key_ring" "main" {
  project  = var.project_id
  name     = var.key_ring_name
  location = var.location

  lifecycle {
    prevent_destroy = true
  }
}

# The key-encryption key (KEK) that wraps Gatehouse data keys (CRED-3).
# KMS makes a new primary version every 90 days; old versions stay enabled
# so existing wrapped data keys still open, and the rotate function re-wraps
# them under the primary.
resource "google_kms_crypto_key" "kek" {
  name                       = "kek"
  key_ring                   = google_kms_key_ring.main.id
  purpose                    = "ENCRYPT_DECRYPT"
  rotation_period            = "7776000s"
  destroy_scheduled_duration = "2592000s"

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = var.protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}
