package opendb

import (
	"database/sql/driver"
	"reflect"
)

// passedRows wraps the driver's rows and passes their optional column type
// methods on: database/sql looks for them on the outermost rows only, so a
// wrapper that drops one loses what the driver knows of its columns
// (sql.ColumnType's length, nullability, precision and scan type). The
// wrappers of rows (gatedRows, keptRows) embed it.
type passedRows struct {
	driver.Rows
}

func (r passedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r passedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r passedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r passedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r passedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// The wrappers of rows pass on every column type method.
var (
	_ driver.RowsColumnTypeDatabaseTypeName = (*gatedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*gatedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*gatedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*gatedRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*gatedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*keptRows)(nil)
	_ driver.RowsColumnTypeLength           = (*keptRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*keptRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*keptRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*keptRows)(nil)
)
