package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// export reads an export by name; nil if there is none.
func (s *Service) export(ctx context.Context, name string) (*exportRecord, uint64, error) {
	e, err := s.kv.Get(ctx, exportKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get export %s: %w", name, err)
	}
	ex := new(exportRecord)
	if err := json.Unmarshal(e.Value, ex); err != nil {
		return nil, 0, fmt.Errorf("decode export %s: %w", name, err)
	}
	return ex, e.Revision, nil
}

// importers returns the names of the live stacks other than stackID that
// import the export name.
func (s *Service) importers(ctx context.Context, name, stackID string) ([]string, error) {
	recs, err := s.records(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range recs {
		if r.ID == stackID || r.Status == StatusDeleteComplete || r.Status == StatusRollbackComplete {
			continue
		}
		if slices.Contains(r.Current.Imports, name) || (r.Pending != nil && slices.Contains(r.Pending.Imports, name)) {
			out = append(out, r.Name)
		}
	}
	return out, nil
}

func exportsOf(outs []Output) map[string]string {
	m := map[string]string{}
	for _, o := range outs {
		if o.ExportName != "" {
			m[o.ExportName] = o.Value
		}
	}
	return m
}

// claimExports checks and records the exports of outs for rec, whose
// previous outputs were prev. It returns a non-empty reason when an export
// is another stack's, or when an export that another stack imports would
// change or go away.
func (s *Service) claimExports(ctx context.Context, rec *record, prev, outs []Output) (string, error) {
	want, had := exportsOf(outs), exportsOf(prev)
	for _, name := range sortedKeys(had) {
		if v, ok := want[name]; ok && v == had[name] {
			continue
		}
		users, err := s.importers(ctx, name, rec.ID)
		if err != nil {
			return "", err
		}
		if len(users) > 0 {
			if _, ok := want[name]; !ok {
				return fmt.Sprintf("Export %s cannot be deleted as it is in use by %s", name, strings.Join(users, ", ")), nil
			}
			return fmt.Sprintf("Export %s cannot be updated as it is in use by %s", name, strings.Join(users, ", ")), nil
		}
	}
	for _, name := range sortedKeys(want) {
		reason, err := s.putExport(ctx, rec, name, want[name])
		if err != nil || reason != "" {
			return reason, err
		}
	}
	return "", nil
}

// putExport records rec's export name = value, unless another stack has it.
func (s *Service) putExport(ctx context.Context, rec *record, name, value string) (string, error) {
	b, err := json.Marshal(exportRecord{Name: name, Value: value, StackID: rec.ID, StackName: rec.Name})
	if err != nil {
		return "", fmt.Errorf("encode export %s: %w", name, err)
	}
	for range 10 {
		ex, rev, err := s.export(ctx, name)
		if err != nil {
			return "", err
		}
		switch {
		case ex == nil:
			_, err = s.kv.Create(ctx, exportKey(name), b)
		case ex.StackID != rec.ID:
			return fmt.Sprintf("Export with name %s is already exported by stack %s", name, ex.StackName), nil
		case ex.Value == value:
			return "", nil
		default:
			_, err = s.kv.Update(ctx, exportKey(name), b, rev)
		}
		if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("put export %s: %w", name, err)
		}
		return "", nil
	}
	return "", fmt.Errorf("put export %s: too many conflicts", name)
}

// syncExports makes the stored exports of rec those of outs: it deletes the
// ones rec owns that outs does not have and restores the values of the rest.
func (s *Service) syncExports(ctx context.Context, rec *record, outs []Output) error {
	want := exportsOf(outs)
	keys, err := s.kv.Keys(ctx, keyExport)
	if err != nil {
		return fmt.Errorf("list exports: %w", err)
	}
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get export: %w", err)
		}
		var ex exportRecord
		if err := json.Unmarshal(e.Value, &ex); err != nil {
			return fmt.Errorf("decode export %s: %w", k, err)
		}
		if ex.StackID != rec.ID {
			continue
		}
		if _, ok := want[ex.Name]; ok {
			continue
		}
		if err := s.kv.Delete(ctx, k, e.Revision); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete export %s: %w", ex.Name, err)
		}
	}
	for _, name := range sortedKeys(want) {
		if _, err := s.putExport(ctx, rec, name, want[name]); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
