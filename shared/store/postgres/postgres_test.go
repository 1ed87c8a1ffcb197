package postgres_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/shared/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return pgtest.New(t).Store })
}

// Every session change made through one store reaches another store on
// the same database (another process) through LISTEN/NOTIFY.
//
// Controls: AUTH-6
func TestSessionAnnouncementsAcrossProcesses(t *testing.T) {
	db := pgtest.New(t)
	storetest.Announcements(t, db.Store, db.Another(t))
}
