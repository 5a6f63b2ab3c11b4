package state

import "fmt"

// The catalog ops of a transaction, with Consul's verbs and error texts.
// Gets, sets and cases append the entity as it now stands to results;
// deletes append nothing. A cas with ModifyIndex 0 writes only an entity
// that does not exist yet; any other index must equal the entity's.

func txnNodeTxn(tx *txn, op TxnOp, results []TxnResult) ([]TxnResult, error) {
	n := op.Node
	switch op.Verb {
	case VerbGet:
	case VerbSet:
		if err := ensureNodeTxn(tx, n); err != nil {
			return results, err
		}
	case VerbCAS:
		cur, err := tx.First(tableNodes, "id", n.Node)
		if err != nil {
			return results, fmt.Errorf("state: node lookup: %w", err)
		}
		if cur == nil && n.ModifyIndex != 0 || cur != nil && cur.(*Node).ModifyIndex != n.ModifyIndex {
			return results, fmt.Errorf("failed to set node %q, index is stale", n.Node)
		}
		if err := ensureNodeTxn(tx, n); err != nil {
			return results, err
		}
	case VerbDelete:
		return results, deleteNodeTxn(tx, n.Node)
	case VerbDeleteCAS:
		cur, err := tx.First(tableNodes, "id", n.Node)
		if err != nil {
			return results, fmt.Errorf("state: node lookup: %w", err)
		}
		if cur == nil || cur.(*Node).ModifyIndex != n.ModifyIndex {
			return results, fmt.Errorf("failed to delete node %q, index is stale", n.Node)
		}
		return results, deleteNodeTxn(tx, n.Node)
	default:
		return results, fmt.Errorf("unknown Node verb %q", op.Verb)
	}
	raw, err := tx.First(tableNodes, "id", n.Node)
	if err != nil {
		return results, fmt.Errorf("state: node lookup: %w", err)
	}
	if raw == nil {
		return results, fmt.Errorf("node %q doesn't exist", n.Node)
	}
	return append(results, TxnResult{Node: raw.(*Node)}), nil
}

func txnServiceTxn(tx *txn, op TxnOp, results []TxnResult) ([]TxnResult, error) {
	svc := op.Service
	id := svc.ID
	if id == "" {
		id = svc.Service
	}
	current := func() (*Service, error) {
		raw, err := tx.First(tableServices, "id", svc.Node, id)
		if err != nil || raw == nil {
			return nil, err
		}
		return raw.(*Service), nil
	}
	switch op.Verb {
	case VerbGet:
	case VerbSet:
		if err := ensureServiceTxn(tx, svc); err != nil {
			return results, err
		}
	case VerbCAS:
		cur, err := current()
		if err != nil {
			return results, err
		}
		if cur == nil && svc.ModifyIndex != 0 || cur != nil && cur.ModifyIndex != svc.ModifyIndex {
			return results, fmt.Errorf("failed to set service %q on node %q, index is stale", id, svc.Node)
		}
		if err := ensureServiceTxn(tx, svc); err != nil {
			return results, err
		}
	case VerbDelete:
		return results, deleteServiceTxn(tx, svc.Node, id)
	case VerbDeleteCAS:
		cur, err := current()
		if err != nil {
			return results, err
		}
		if cur == nil || cur.ModifyIndex != svc.ModifyIndex {
			return results, fmt.Errorf("failed to delete service %q on node %q, index is stale", id, svc.Node)
		}
		return results, deleteServiceTxn(tx, svc.Node, id)
	default:
		return results, fmt.Errorf("unknown Service verb %q", op.Verb)
	}
	cur, err := current()
	if err != nil {
		return results, err
	}
	if cur == nil {
		return results, fmt.Errorf("service %q on node %q doesn't exist", id, svc.Node)
	}
	return append(results, TxnResult{Service: cur}), nil
}

func txnCheckTxn(tx *txn, op TxnOp, results []TxnResult) ([]TxnResult, error) {
	c := op.Check
	current := func() (*HealthCheck, error) {
		raw, err := tx.First(tableChecks, "id", c.Node, c.CheckID)
		if err != nil || raw == nil {
			return nil, err
		}
		return raw.(*HealthCheck), nil
	}
	switch op.Verb {
	case VerbGet:
	case VerbSet:
		if err := ensureCheckTxn(tx, c); err != nil {
			return results, err
		}
	case VerbCAS:
		cur, err := current()
		if err != nil {
			return results, err
		}
		if cur == nil && c.ModifyIndex != 0 || cur != nil && cur.ModifyIndex != c.ModifyIndex {
			return results, fmt.Errorf("failed to set check %q on node %q, index is stale", c.CheckID, c.Node)
		}
		if err := ensureCheckTxn(tx, c); err != nil {
			return results, err
		}
	case VerbDelete:
		return results, deleteCheckTxn(tx, c.Node, c.CheckID)
	case VerbDeleteCAS:
		cur, err := current()
		if err != nil {
			return results, err
		}
		if cur == nil || cur.ModifyIndex != c.ModifyIndex {
			return results, fmt.Errorf("failed to delete check %q on node %q, index is stale", c.CheckID, c.Node)
		}
		return results, deleteCheckTxn(tx, c.Node, c.CheckID)
	default:
		return results, fmt.Errorf("unknown Check verb %q", op.Verb)
	}
	cur, err := current()
	if err != nil {
		return results, err
	}
	if cur == nil {
		return results, fmt.Errorf("check %q on node %q doesn't exist", c.CheckID, c.Node)
	}
	return append(results, TxnResult{Check: cur}), nil
}
