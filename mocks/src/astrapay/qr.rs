//! The QRIS payload of a dynamic MPM bill (provider notes 1.9): EMVCo merchant-presented
//! TLV fields (`ID` two digits, length two digits, value), ending with the CRC tag `63`
//! whose value is the CRC-16/CCITT-FALSE of everything before it, `6304` included, as
//! four upper-case hex digits.

/// What a bill's QR string carries.
#[derive(Clone, Debug)]
pub(crate) struct QrBill<'a> {
    /// AstraPay's numeric QRIS merchant id.
    pub(crate) merchant_id: &'a str,
    /// The terminal id.
    pub(crate) terminal_id: &'a str,
    /// Shown by the payer's app (tag 59, at most 25 characters).
    pub(crate) merchant_name: &'a str,
    /// The bill number (AstraPay `referenceNo`).
    pub(crate) bill_number: &'a str,
    /// Whole rupiah.
    pub(crate) amount: i64,
}

/// One TLV field; values longer than 99 characters are cut (no field here comes close).
fn tlv(id: &str, value: &str) -> String {
    let value: String = value.chars().take(99).collect();
    format!("{id}{:02}{value}", value.len())
}

/// The full QR string, CRC included: `000201` (format 01), `010212` (dynamic), AstraPay's
/// merchant account (tag 26, `ID.CO.ASTRAPAY.WWW`), the national QRIS entry (tag 51,
/// `ID.CO.QRIS.WWW`), MCC, currency 360, amount, country, name, city, postal code, the
/// bill number and terminal (tag 62), then the CRC (tag 63).
pub(crate) fn qr_content(bill: &QrBill<'_>) -> String {
    let merchant_account = [
        tlv("00", "ID.CO.ASTRAPAY.WWW"),
        tlv("01", &format!("93600822{:0>10}", bill.merchant_id)),
        tlv("02", bill.merchant_id),
        tlv("03", "UMI"),
    ]
    .concat();
    let national = [
        tlv("00", "ID.CO.QRIS.WWW"),
        tlv("02", &format!("ID{:0>13}", bill.merchant_id)),
        tlv("03", "UMI"),
    ]
    .concat();
    let additional = [tlv("01", bill.bill_number), tlv("07", bill.terminal_id)].concat();
    let name: String = bill.merchant_name.chars().take(25).collect();
    let payload = [
        tlv("00", "01"),
        tlv("01", "12"),
        tlv("26", &merchant_account),
        tlv("51", &national),
        tlv("52", "5999"),
        tlv("53", "360"),
        tlv("54", &bill.amount.to_string()),
        tlv("58", "ID"),
        tlv("59", &name),
        tlv("60", "JAKARTA PUSAT"),
        tlv("61", "10110"),
        tlv("62", &additional),
        "6304".to_owned(),
    ]
    .concat();
    let crc = crc16_ccitt_false(payload.as_bytes());
    format!("{payload}{crc:04X}")
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final
/// XOR (check value of `"123456789"`: 0x29B1).
pub(crate) fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}
