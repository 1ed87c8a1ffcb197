output "key_id" {
  description = "Crypto key resource name for GATEHOUSE_KMS_KEY (projects/P/locations/L/keyRings/R/cryptoKeys/K)."
  value       = google_kms_crypto_key.kek.id
}
