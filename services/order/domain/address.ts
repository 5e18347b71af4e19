/**
 * A postal address as the order service keeps it (orders.shipping_address and
 * customers.address, jsonb) and sends it in events: the shop.common.v1.Address fields,
 * trimmed and normalized (country code upper case, phone compacted). line1, city,
 * country_code and recipient_name are never empty; the rest may be.
 */
export interface AddressData {
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  countryCode: string;
  recipientName: string;
  phone: string;
}
