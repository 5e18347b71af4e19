/**
 * A postal address as the delivery service keeps it (deliveries.address, jsonb): the
 * shop.common.v1.Address fields in camelCase, as order.confirmed carried them.
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
