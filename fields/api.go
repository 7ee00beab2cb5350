package fields

import (
	"context"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// FieldsAPI is what *Service (c.Fields) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Service for each method.
type FieldsAPI interface {
	CheckAttributes(ctx context.Context, v *core.ValidationError, entity string, attrs map[string]any) ([]byte, error)
	Define(ctx context.Context, d Definition) (*Definition, error)
	FilterFields(ctx context.Context, entity, attrCol string) ([]filter.Field, error)
	Get(ctx context.Context, entity, key string) (*Definition, error)
	List(ctx context.Context, entity string) ([]*Definition, error)
	Remove(ctx context.Context, entity, key string) error
}

// The services satisfy their interfaces.
var (
	_ FieldsAPI = (*Service)(nil)
)
