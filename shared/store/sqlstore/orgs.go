package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const memberColumns = `org_id, user_id, role, created_at, updated_at`

func scanMember(r Row) (store.Member, error) {
	var m store.Member
	err := r.Scan(&m.OrgID, &m.UserID, &m.Role, &m.CreatedAt, &m.UpdatedAt)
	return m, err
}

// CreateOrg implements [store.Orgs].
func (db *DB) CreateOrg(ctx context.Context, o store.Org, ownerID string) error {
	return db.tx(ctx, func(c Conn) error {
		if _, err := c.Exec(ctx, `INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)`,
			o.ID, o.Name, o.CreatedAt); err != nil {
			return fmt.Errorf("insert org %s: %w", o.ID, err)
		}
		if _, err := c.Exec(ctx, `INSERT INTO org_members (`+memberColumns+`) VALUES ($1, $2, $3, $4, $4)`,
			o.ID, ownerID, store.RoleOwner, o.CreatedAt); err != nil {
			return fmt.Errorf("insert owner of org %s: %w", o.ID, err)
		}
		return nil
	})
}

// Org implements [store.Orgs].
func (db *DB) Org(ctx context.Context, id string) (store.Org, error) {
	var o store.Org
	err := db.conn.QueryRow(ctx, `SELECT id, name, created_at FROM orgs WHERE id = $1`, id).
		Scan(&o.ID, &o.Name, &o.CreatedAt)
	if err != nil {
		return o, fmt.Errorf("read org %s: %w", id, err)
	}
	return o, nil
}

// ListOrgs implements [store.Orgs].
func (db *DB) ListOrgs(ctx context.Context, after string, limit int) ([]store.Org, error) {
	rows, err := db.conn.Query(ctx, `SELECT id, name, created_at FROM orgs WHERE id > $1 ORDER BY id LIMIT $2`,
		after, min(max(limit, 1), store.MaxUserPage))
	orgs, err := collect(rows, err, func(r Rows) (store.Org, error) {
		var o store.Org
		err := r.Scan(&o.ID, &o.Name, &o.CreatedAt)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	return orgs, nil
}

// UserOrgs implements [store.Orgs].
func (db *DB) UserOrgs(ctx context.Context, userID string) ([]store.UserOrg, error) {
	rows, err := db.conn.Query(ctx, `SELECT o.id, o.name, o.created_at, m.role
		FROM org_members m JOIN orgs o ON o.id = m.org_id
		WHERE m.user_id = $1 ORDER BY o.name, o.id`, userID)
	out, err := collect(rows, err, func(r Rows) (store.UserOrg, error) {
		var u store.UserOrg
		err := r.Scan(&u.ID, &u.Name, &u.CreatedAt, &u.Role)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("list orgs of user %s: %w", userID, err)
	}
	return out, nil
}

// Member implements [store.Orgs].
func (db *DB) Member(ctx context.Context, orgID, userID string) (store.Member, error) {
	m, err := scanMember(db.conn.QueryRow(ctx, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = $1 AND user_id = $2`, orgID, userID))
	if err != nil {
		return m, fmt.Errorf("read member %s of org %s: %w", userID, orgID, err)
	}
	return m, nil
}

// Members implements [store.Orgs].
func (db *DB) Members(ctx context.Context, orgID, after string, limit int) ([]store.Member, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3`, orgID, after, limit)
	out, err := collect(rows, err, func(r Rows) (store.Member, error) { return scanMember(r) })
	if err != nil {
		return nil, fmt.Errorf("list members of org %s: %w", orgID, err)
	}
	return out, nil
}

// lockOrg locks the organization's row for the rest of the transaction, so
// membership changes to one organization happen one at a time. It returns
// ErrNotFound if the organization does not exist.
func (db *DB) lockOrg(ctx context.Context, c Conn, orgID string) error {
	var id string
	if err := c.QueryRow(ctx, `SELECT id FROM orgs WHERE id = $1`+db.dialect.ForUpdate, orgID).Scan(&id); err != nil {
		return fmt.Errorf("lock org %s: %w", orgID, err)
	}
	return nil
}

// lockedMember reads a membership inside a transaction that holds the
// organization's lock.
func lockedMember(ctx context.Context, c Conn, orgID, userID string) (store.Member, error) {
	m, err := scanMember(c.QueryRow(ctx, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = $1 AND user_id = $2`, orgID, userID))
	if err != nil {
		return m, fmt.Errorf("read member %s of org %s: %w", userID, orgID, err)
	}
	return m, nil
}

// LockMember implements [store.Orgs].
func (db *DB) LockMember(ctx context.Context, orgID, userID string) (store.Member, error) {
	var m store.Member
	err := db.tx(ctx, func(c Conn) error {
		if err := db.lockOrg(ctx, c, orgID); err != nil {
			return err
		}
		var err error
		m, err = lockedMember(ctx, c, orgID, userID)
		return err
	})
	return m, err
}

// AddMember implements [store.Orgs].
func (db *DB) AddMember(ctx context.Context, m store.Member) error {
	if m.Role == store.RoleOwner {
		return fmt.Errorf("add member %s to org %s: %w", m.UserID, m.OrgID, store.ErrOwner)
	}
	return db.tx(ctx, func(c Conn) error {
		if err := db.lockOrg(ctx, c, m.OrgID); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, `INSERT INTO org_members (`+memberColumns+`) VALUES ($1, $2, $3, $4, $4)`,
			m.OrgID, m.UserID, m.Role, m.CreatedAt); err != nil {
			return fmt.Errorf("add member %s to org %s: %w", m.UserID, m.OrgID, err)
		}
		return nil
	})
}

// SetMemberRole implements [store.Orgs].
func (db *DB) SetMemberRole(ctx context.Context, orgID, userID, role string, now time.Time) (store.Member, error) {
	var old store.Member
	if role == store.RoleOwner {
		return old, fmt.Errorf("set role of %s in org %s: %w", userID, orgID, store.ErrOwner)
	}
	err := db.tx(ctx, func(c Conn) error {
		if err := db.lockOrg(ctx, c, orgID); err != nil {
			return err
		}
		var err error
		if old, err = lockedMember(ctx, c, orgID, userID); err != nil {
			return err
		}
		if old.Role == store.RoleOwner {
			return fmt.Errorf("set role of %s in org %s: %w", userID, orgID, store.ErrOwner)
		}
		_, err = c.Exec(ctx, `UPDATE org_members SET role = $3, updated_at = $4
			WHERE org_id = $1 AND user_id = $2 AND role <> $5`, orgID, userID, role, now, store.RoleOwner)
		if err != nil {
			return fmt.Errorf("set role of %s in org %s: %w", userID, orgID, err)
		}
		return nil
	})
	return old, err
}

// RemoveMember implements [store.Orgs].
func (db *DB) RemoveMember(ctx context.Context, orgID, userID string) (store.Member, error) {
	var old store.Member
	err := db.tx(ctx, func(c Conn) error {
		if err := db.lockOrg(ctx, c, orgID); err != nil {
			return err
		}
		var err error
		if old, err = lockedMember(ctx, c, orgID, userID); err != nil {
			return err
		}
		if old.Role == store.RoleOwner {
			return fmt.Errorf("remove %s from org %s: %w", userID, orgID, store.ErrOwner)
		}
		_, err = c.Exec(ctx, `DELETE FROM org_members WHERE org_id = $1 AND user_id = $2 AND role <> $3`,
			orgID, userID, store.RoleOwner)
		if err != nil {
			return fmt.Errorf("remove %s from org %s: %w", userID, orgID, err)
		}
		return nil
	})
	return old, err
}

// TransferOwnership implements [store.Orgs]. The organization's lock makes
// the check and the two updates one step: of concurrent transfers, the
// first moves the owner role and the rest find that fromUserID is no
// longer the owner. The demotion runs first so the one-owner index never
// sees two owners.
func (db *DB) TransferOwnership(ctx context.Context, orgID, fromUserID, toUserID string, now time.Time) error {
	if fromUserID == toUserID {
		return fmt.Errorf("transfer org %s to its owner: %w", orgID, store.ErrConflict)
	}
	return db.tx(ctx, func(c Conn) error {
		if err := db.lockOrg(ctx, c, orgID); err != nil {
			return err
		}
		from, err := lockedMember(ctx, c, orgID, fromUserID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && from.Role != store.RoleOwner) {
			return fmt.Errorf("transfer org %s from %s: %w", orgID, fromUserID, store.ErrOwner)
		}
		if err != nil {
			return err
		}
		if _, err := lockedMember(ctx, c, orgID, toUserID); err != nil {
			return err
		}
		for _, step := range []struct{ user, role string }{{fromUserID, "admin"}, {toUserID, store.RoleOwner}} {
			if _, err := c.Exec(ctx, `UPDATE org_members SET role = $3, updated_at = $4 WHERE org_id = $1 AND user_id = $2`,
				orgID, step.user, step.role, now); err != nil {
				return fmt.Errorf("transfer org %s: set %s to %s: %w", orgID, step.user, step.role, err)
			}
		}
		return nil
	})
}

// CreateOrgRole implements [store.Orgs].
func (db *DB) CreateOrgRole(ctx context.Context, r store.OrgRole) error {
	return db.tx(ctx, func(c Conn) error {
		if err := db.lockOrg(ctx, c, r.OrgID); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, `INSERT INTO org_roles (org_id, name, permissions, created_at) VALUES ($1, $2, $3, $4)`,
			r.OrgID, r.Name, strings.Join(r.Permissions, " "), r.CreatedAt); err != nil {
			return fmt.Errorf("create role %s in org %s: %w", r.Name, r.OrgID, err)
		}
		return nil
	})
}

func scanOrgRole(r Row) (store.OrgRole, error) {
	var role store.OrgRole
	var perms string
	err := r.Scan(&role.OrgID, &role.Name, &perms, &role.CreatedAt)
	role.Permissions = strings.Fields(perms)
	return role, err
}

// OrgRole implements [store.Orgs].
func (db *DB) OrgRole(ctx context.Context, orgID, name string) (store.OrgRole, error) {
	r, err := scanOrgRole(db.conn.QueryRow(ctx, `SELECT org_id, name, permissions, created_at FROM org_roles
		WHERE org_id = $1 AND name = $2`, orgID, name))
	if err != nil {
		return r, fmt.Errorf("read role %s of org %s: %w", name, orgID, err)
	}
	return r, nil
}

// OrgRoles implements [store.Orgs].
func (db *DB) OrgRoles(ctx context.Context, orgID string) ([]store.OrgRole, error) {
	rows, err := db.conn.Query(ctx, `SELECT org_id, name, permissions, created_at FROM org_roles
		WHERE org_id = $1 ORDER BY name`, orgID)
	out, err := collect(rows, err, func(r Rows) (store.OrgRole, error) { return scanOrgRole(r) })
	if err != nil {
		return nil, fmt.Errorf("list roles of org %s: %w", orgID, err)
	}
	return out, nil
}

// lockedRole locks the organization and reads its custom role name.
func (db *DB) lockedRole(ctx context.Context, c Conn, orgID, name string) (store.OrgRole, error) {
	if err := db.lockOrg(ctx, c, orgID); err != nil {
		return store.OrgRole{}, err
	}
	r, err := scanOrgRole(c.QueryRow(ctx, `SELECT org_id, name, permissions, created_at FROM org_roles
		WHERE org_id = $1 AND name = $2`, orgID, name))
	if err != nil {
		return r, fmt.Errorf("read role %s of org %s: %w", name, orgID, err)
	}
	return r, nil
}

// SetOrgRolePermissions implements [store.Orgs].
func (db *DB) SetOrgRolePermissions(ctx context.Context, orgID, name string, permissions []string) (store.OrgRole, error) {
	var old store.OrgRole
	err := db.tx(ctx, func(c Conn) error {
		var err error
		if old, err = db.lockedRole(ctx, c, orgID, name); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, `UPDATE org_roles SET permissions = $3 WHERE org_id = $1 AND name = $2`,
			orgID, name, strings.Join(permissions, " ")); err != nil {
			return fmt.Errorf("update role %s of org %s: %w", name, orgID, err)
		}
		return nil
	})
	return old, err
}

// DeleteOrgRole implements [store.Orgs]. Under the organization's lock no
// membership change can give the role to someone between the check and
// the delete.
func (db *DB) DeleteOrgRole(ctx context.Context, orgID, name string) (store.OrgRole, error) {
	var old store.OrgRole
	err := db.tx(ctx, func(c Conn) error {
		var err error
		if old, err = db.lockedRole(ctx, c, orgID, name); err != nil {
			return err
		}
		var holders, sso int64
		if err := c.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM org_members WHERE org_id = $1 AND role = $2),
			(SELECT count(*) FROM sso_configs WHERE org_id = $1 AND provision_role = $2)`, orgID, name).Scan(&holders, &sso); err != nil {
			return fmt.Errorf("count holders of role %s of org %s: %w", name, orgID, err)
		}
		if holders > 0 || sso > 0 {
			return fmt.Errorf("delete role %s of org %s: %d members, %d sso: %w", name, orgID, holders, sso, store.ErrConflict)
		}
		if _, err := c.Exec(ctx, `DELETE FROM org_roles WHERE org_id = $1 AND name = $2`, orgID, name); err != nil {
			return fmt.Errorf("delete role %s of org %s: %w", name, orgID, err)
		}
		return nil
	})
	return old, err
}

// DeleteUserMemberships implements [store.Orgs].
func (db *DB) DeleteUserMemberships(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := db.tx(ctx, func(c Conn) error {
		// Lock every organization of the user, in id order, so that no
		// transfer can make the user an owner between the check and the delete.
		rows, err := c.Query(ctx, `SELECT id FROM orgs WHERE id IN
			(SELECT org_id FROM org_members WHERE user_id = $1) ORDER BY id`+db.dialect.ForUpdate, userID)
		if _, err := collect(rows, err, func(r Rows) (string, error) {
			var id string
			return id, r.Scan(&id)
		}); err != nil {
			return fmt.Errorf("lock orgs of %s: %w", userID, err)
		}
		var owned int64
		if err := c.QueryRow(ctx, `SELECT count(*) FROM org_members WHERE user_id = $1 AND role = $2`,
			userID, store.RoleOwner).Scan(&owned); err != nil {
			return fmt.Errorf("count orgs owned by %s: %w", userID, err)
		}
		if owned > 0 {
			return fmt.Errorf("delete memberships of %s: owns %d: %w", userID, owned, store.ErrOwner)
		}
		n, err = c.Exec(ctx, `DELETE FROM org_members WHERE user_id = $1 AND role <> $2`, userID, store.RoleOwner)
		if err != nil {
			return fmt.Errorf("delete memberships of %s: %w", userID, err)
		}
		return nil
	})
	return n, err
}

// DeleteOrg implements [store.Orgs]. The organization's lock orders it
// after any membership change or transfer in flight, so the owner check
// and the deletes are one step.
func (db *DB) DeleteOrg(ctx context.Context, orgID, ownerID string) (store.OrgDeletion, error) {
	var d store.OrgDeletion
	err := db.tx(ctx, func(c Conn) error {
		if err := db.lockOrg(ctx, c, orgID); err != nil {
			return err
		}
		m, err := lockedMember(ctx, c, orgID, ownerID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && m.Role != store.RoleOwner) {
			return fmt.Errorf("delete org %s as %s: %w", orgID, ownerID, store.ErrOwner)
		} else if err != nil {
			return err
		}
		// Memberships and roles would go with the org row (ON DELETE
		// CASCADE); deleting them first counts them.
		if d.Members, err = c.Exec(ctx, `DELETE FROM org_members WHERE org_id = $1`, orgID); err != nil {
			return fmt.Errorf("delete members of org %s: %w", orgID, err)
		}
		if d.Roles, err = c.Exec(ctx, `DELETE FROM org_roles WHERE org_id = $1`, orgID); err != nil {
			return fmt.Errorf("delete roles of org %s: %w", orgID, err)
		}
		if d.Connections, err = c.Exec(ctx, `DELETE FROM connections WHERE org_id = $1`, orgID); err != nil {
			return fmt.Errorf("delete connections of org %s: %w", orgID, err)
		}
		if d.Tokens, err = c.Exec(ctx, `DELETE FROM one_time_tokens WHERE scope = $1`, orgID); err != nil {
			return fmt.Errorf("delete tokens of org %s: %w", orgID, err)
		}
		sso, err := c.Exec(ctx, `DELETE FROM sso_configs WHERE org_id = $1`, orgID)
		if err != nil {
			return fmt.Errorf("delete sso configuration of org %s: %w", orgID, err)
		}
		if d.Domains, err = c.Exec(ctx, `DELETE FROM sso_domains WHERE org_id = $1`, orgID); err != nil {
			return fmt.Errorf("delete domains of org %s: %w", orgID, err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM orgs WHERE id = $1`, orgID); err != nil {
			return fmt.Errorf("delete org %s: %w", orgID, err)
		}
		d.SSO = sso > 0
		return nil
	})
	return d, err
}
