import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { CreateCustomerRequest, UpdateCustomerRequest } from "../../gen/shop/order/v1/order_pb.js";
import type { Database } from "../../lib/db/index.js";
import { alreadyExists, invalidArgument, notFound } from "../../lib/errors.js";
import { uuidv7 } from "../../lib/ids.js";
import { decodePageToken, nextPage, pageSize } from "../../lib/paging.js";
import { requireId, requireText } from "../../lib/validate.js";
import { Customer, type CustomerRow } from "./entities.js";
import { normalizeEmail, normalizePhone, parseCreateCustomer, requireAddress } from "./validate.js";

/** The customer use cases: registration, changes and the admin list. */

/** ALREADY_EXISTS naming what collided: the id (self-registration twice) or the email. */
function uniqueViolation(error: UniqueConstraintViolationException, id: string, email: string | undefined) {
  if (/customers_pkey/.test(error.message)) return alreadyExists(`customer ${id} is already registered`);
  return alreadyExists(`a customer with email ${email ?? "(this email)"} already exists`);
}

/** CreateCustomer: the id is the request's (self-registration: the token subject) or a new UUIDv7. */
export async function createCustomer(orm: Database, request: CreateCustomerRequest): Promise<CustomerRow> {
  const fields = parseCreateCustomer(request);
  const id = request.customerId === "" ? uuidv7() : requireId("customer_id", request.customerId);
  const address = request.address ? requireAddress("address", request.address) : null;
  const em = orm.em.fork();
  const now = new Date();
  const customer = em.create(Customer, { id, ...fields, address, createdAt: now, updatedAt: now });
  try {
    await em.flush();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw uniqueViolation(error, id, fields.email);
    throw error;
  }
  return customer;
}

/** UpdateCustomer: only the fields that are set change; nothing set is INVALID_ARGUMENT. */
export async function updateCustomer(orm: Database, request: UpdateCustomerRequest): Promise<CustomerRow> {
  const customerId = requireId("customer_id", request.customerId);
  const changes: Partial<Pick<CustomerRow, "email" | "name" | "phone" | "address">> = {};
  if (request.email !== undefined) changes.email = normalizeEmail("email", request.email);
  if (request.name !== undefined) changes.name = requireText("name", request.name, 200);
  if (request.phone !== undefined) changes.phone = normalizePhone("phone", request.phone);
  if (request.address !== undefined) changes.address = requireAddress("address", request.address);
  if (Object.keys(changes).length === 0) throw invalidArgument("customer", "nothing to update: set email, name, phone or address");
  const em = orm.em.fork();
  const customer = await em.findOne(Customer, { id: customerId });
  if (!customer) throw notFound("customer", customerId);
  em.assign(customer, changes);
  try {
    await em.flush();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw uniqueViolation(error, customerId, changes.email);
    throw error;
  }
  return customer;
}

/** ListCustomers: in id order (creation order for server-made UUIDv7 ids), keyset-paged on the id. */
export async function listCustomers(orm: Database, request: { pageSize: number; pageToken: string }): Promise<{ page: CustomerRow[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const afterId = decodePageToken(request.pageToken);
  const rows = await orm.em.fork().find(Customer, afterId ? { id: { $gt: afterId } } : {}, { orderBy: { id: "asc" }, limit: size + 1 });
  return nextPage(rows, size);
}
