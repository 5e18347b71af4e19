import { p } from "@mikro-orm/core";

/** `created_at` (timestamptz): set when MikroORM inserts the row; plain-SQL inserts rely on the column's default. */
export const createdAtColumn = () =>
  p
    .datetime()
    .fieldName("created_at")
    .onCreate(() => new Date());

/** `updated_at` (timestamptz): set when MikroORM inserts or updates the row; plain-SQL updates set it themselves. */
export const updatedAtColumn = () =>
  p
    .datetime()
    .fieldName("updated_at")
    .onCreate(() => new Date())
    .onUpdate(() => new Date());
