package tfcheck

import (
	"slices"
)

// checkCustomNetwork: every VPC is custom mode and has a subnet (INFRA-1).
func checkCustomNetwork(c *Config) []Issue {
	nets := c.Resources("google_compute_network")
	issues := requireSome(nets, "google_compute_network")
	issues = append(issues, requireSome(c.Resources("google_compute_subnetwork"), "google_compute_subnetwork")...)
	for _, b := range nets {
		if !literalBool(b.Body, false, "auto_create_subnetworks") {
			issues = append(issues, issuef(b, "auto_create_subnetworks must be the literal false (custom mode)"))
		}
	}
	return issues
}

// checkDenyIngress: a deny-all ingress rule exists and no rule allows
// ingress from anywhere.
func checkDenyIngress(c *Config) []Issue {
	var issues []Issue
	denyAll := false
	for _, b := range c.Resources("google_compute_firewall") {
		dir, _ := literalString(b.Body, "direction")
		if dir != "" && dir != "INGRESS" {
			continue
		}
		fromAnywhere := literalListHas(b.Body, "0.0.0.0/0", "source_ranges")
		if fromAnywhere && len(children(b.Body, "allow")) > 0 {
			issues = append(issues, issuef(b, "allows ingress from 0.0.0.0/0"))
		}
		if p, _ := literalString(b.Body, "deny", "protocol"); fromAnywhere && p == "all" {
			denyAll = true
		}
	}
	if !denyAll {
		issues = append(issues, Issue{Where: "(configuration)", Msg: "no firewall rule denies all ingress from 0.0.0.0/0"})
	}
	return issues
}

// checkPrivateServiceAccess: Cloud SQL is reached over a Private Service
// Access peering with a reserved VPC_PEERING range.
func checkPrivateServiceAccess(c *Config) []Issue {
	var issues []Issue
	conns := c.Resources("google_service_networking_connection")
	issues = append(issues, requireSome(conns, "google_service_networking_connection")...)
	for _, b := range conns {
		if s, _ := literalString(b.Body, "service"); s != "servicenetworking.googleapis.com" {
			issues = append(issues, issuef(b, "service must be servicenetworking.googleapis.com"))
		}
	}
	peering := false
	for _, b := range c.Resources("google_compute_global_address") {
		if p, _ := literalString(b.Body, "purpose"); p == "VPC_PEERING" {
			peering = true
		}
	}
	if !peering {
		issues = append(issues, Issue{Where: "(configuration)", Msg: "no google_compute_global_address with purpose VPC_PEERING"})
	}
	return issues
}

// checkFunctionEgress: every function uses Direct VPC egress for private
// ranges only, with no Serverless VPC Access connector.
func checkFunctionEgress(c *Config) []Issue {
	fns := c.Resources("google_cloudfunctions2_function")
	issues := requireSome(fns, "google_cloudfunctions2_function")
	for _, b := range fns {
		if e, _ := literalString(b.Body, "service_config", "direct_vpc_egress"); e != "VPC_EGRESS_PRIVATE_RANGES_ONLY" {
			issues = append(issues, issuef(b, "service_config.direct_vpc_egress must be VPC_EGRESS_PRIVATE_RANGES_ONLY"))
		}
		if len(nested(b.Body, "service_config", "direct_vpc_network_interface")) == 0 {
			issues = append(issues, issuef(b, "service_config has no direct_vpc_network_interface"))
		}
		if attr(b.Body, "service_config", "vpc_connector") != nil {
			issues = append(issues, issuef(b, "uses a VPC connector instead of Direct VPC egress"))
		}
	}
	return issues
}

// hasAll reports whether got holds every element of want.
func hasAll(got, want []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
