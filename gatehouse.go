// Package gatehouse is the package Cloud Run builds. The Go Functions
// Framework buildpack compiles the package at the root of the uploaded
// source: it generates a main package that imports this one and starts the
// Functions Framework, which serves the function FUNCTION_TARGET names.
// Importing the four function packages runs their init, where each
// registers its entry point (Auth, OAuthCallback, Webhooks, Rotate); only
// the targeted one is built at start (shared/entrypoint).
//
// The buildpack picks the shape of the main it generates from this
// package's own imports: importing the framework's functions package
// selects the declarative form, which serves a registered function by
// name. Without it the buildpack would generate a main that calls
// gatehouse.<FUNCTION_TARGET>, which does not exist. One archive serves all
// four functions (docs/deploy.md explains the choice);
// terraform/functionsource builds that archive and proves it builds and
// starts the way Cloud Run builds and starts it.
package gatehouse

import (
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	_ "github.com/gatehouse-dev/gatehouse/functions/auth"
	_ "github.com/gatehouse-dev/gatehouse/functions/oauthcallback"
	_ "github.com/gatehouse-dev/gatehouse/functions/rotate"
	_ "github.com/gatehouse-dev/gatehouse/functions/webhooks"
)
