//! What the simulated account sells, and the test numbers that script each outcome (§1.6):
//! the default price list, the bills postpaid inquiries find, and the serial numbers a
//! success issues.

use rand::Rng;
use serde_json::{Value, json};
use time::Date;

/// One product of the price list (§1.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimProduct {
    /// `buyer_sku_code`, matched case-insensitively.
    pub sku: String,
    /// `product_name`.
    pub name: String,
    /// `category`.
    pub category: String,
    /// `brand`; `PLN` on a prepaid product makes its serial number a token (§1.7).
    pub brand: String,
    /// `type` of a prepaid product (`Umum`).
    pub kind: String,
    /// `seller_name`.
    pub seller_name: String,
    /// Whether it is a postpaid bill (inquiry, then payment).
    pub postpaid: bool,
    /// Prepaid: `price`, what a purchase debits from the deposit.
    pub price: i64,
    /// Postpaid: `admin` per bill sheet.
    pub admin: i64,
    /// Postpaid: `commission` per bill sheet; the debit is the customer total less it.
    pub commission: i64,
    /// Postpaid: `nilai_tagihan` per bill sheet.
    pub bill: i64,
    /// Postpaid: `denda` per bill sheet.
    pub penalty: i64,
    /// `buyer_product_status`; `false` refuses the SKU with rc 43 (nothing booked).
    pub buyer_product_status: bool,
    /// `seller_product_status`; `false` books a purchase as `Gagal`, rc 53.
    pub seller_product_status: bool,
    /// `desc`.
    pub description: String,
}

impl SimProduct {
    /// A prepaid product sold for `price`, active on both sides.
    pub fn prepaid(sku: &str, name: &str, category: &str, brand: &str, price: i64) -> Self {
        Self {
            sku: sku.to_owned(),
            name: name.to_owned(),
            category: category.to_owned(),
            brand: brand.to_owned(),
            kind: "Umum".to_owned(),
            seller_name: "Simulated Seller".to_owned(),
            postpaid: false,
            price,
            admin: 0,
            commission: 0,
            bill: 0,
            penalty: 0,
            buyer_product_status: true,
            seller_product_status: true,
            description: "-".to_owned(),
        }
    }

    /// A postpaid product whose bill sheets each carry `bill` (`nilai_tagihan`), `admin`
    /// and `penalty` (`denda`), `commission` going back to the buyer.
    pub fn postpaid(sku: &str, name: &str, brand: &str, fees: PostpaidFees) -> Self {
        Self {
            category: "Pascabayar".to_owned(),
            kind: String::new(),
            postpaid: true,
            price: 0,
            admin: fees.admin,
            commission: fees.commission,
            bill: fees.bill,
            penalty: fees.penalty,
            ..Self::prepaid(sku, name, "Pascabayar", brand, 0)
        }
    }

    /// The same product, its seller out of stock (`seller_product_status: false`).
    pub fn seller_unavailable(mut self) -> Self {
        self.seller_product_status = false;
        self
    }

    /// A prepaid purchase of it delivers a PLN token in `sn` (brand `PLN`, §1.7).
    pub(crate) fn issues_pln_token(&self) -> bool {
        !self.postpaid && self.brand.eq_ignore_ascii_case("PLN")
    }

    /// Sold now: active for the buyer and the seller.
    pub fn available(&self) -> bool {
        self.buyer_product_status && self.seller_product_status
    }
}

/// The amounts of one postpaid bill sheet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostpaidFees {
    /// `nilai_tagihan`.
    pub bill: i64,
    /// `admin`.
    pub admin: i64,
    /// `denda`.
    pub penalty: i64,
    /// `commission`.
    pub commission: i64,
}

/// The SKU of the default catalogue whose seller is out of stock.
pub const UNAVAILABLE_SKU: &str = "isat25";

/// The default catalogue: prepaid `xld10`, `tsel5`, `pln20`, `pln50`, `pln100` and the
/// unavailable [`UNAVAILABLE_SKU`]; postpaid `pln`, `pdam`, `bpjs` and `internet`. `pln` is
/// the official worked example (§1.3.5): bill 8000, admin 2500, penalty 500, so the
/// customer pays 11000 and the deposit is debited 10000, a commission of 1000 per sheet.
pub fn default_products() -> Vec<SimProduct> {
    let fees = |bill, admin, penalty, commission| PostpaidFees {
        bill,
        admin,
        penalty,
        commission,
    };
    vec![
        SimProduct::prepaid("xld10", "XL 10.000", "Pulsa", "XL", 10_150),
        SimProduct::prepaid("tsel5", "Telkomsel 5.000", "Pulsa", "TELKOMSEL", 5_250),
        SimProduct::prepaid("pln20", "PLN 20.000", "PLN", "PLN", 20_300),
        SimProduct::prepaid("pln50", "PLN 50.000", "PLN", "PLN", 50_300),
        SimProduct::prepaid("pln100", "PLN 100.000", "PLN", "PLN", 100_300),
        SimProduct::prepaid(
            UNAVAILABLE_SKU,
            "Indosat 25.000",
            "Pulsa",
            "INDOSAT",
            25_150,
        )
        .seller_unavailable(),
        SimProduct::postpaid(
            "pln",
            "PLN Pascabayar",
            "PLN PASCABAYAR",
            fees(8_000, 2_500, 500, 1_000),
        ),
        SimProduct::postpaid("pdam", "PDAM", "PDAM", fees(45_000, 2_500, 0, 1_000)),
        SimProduct::postpaid(
            "bpjs",
            "BPJS Kesehatan",
            "BPJS KESEHATAN",
            fees(150_000, 2_500, 0, 1_500),
        ),
        SimProduct::postpaid(
            "internet",
            "Internet Pascabayar",
            "INTERNET PASCABAYAR",
            fees(350_000, 2_500, 0, 1_000),
        ),
    ]
}

/// How a purchase or a payment ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `Sukses` at once.
    Success,
    /// `Gagal`, rc 02, at once.
    Failure,
    /// `Pending` (rc 03), later `Sukses` (`true`) or `Gagal` (`false`).
    Pending(bool),
}

/// The prepaid test numbers of §1.6, for every prepaid SKU; any other number succeeds.
pub(crate) fn prepaid_outcome(customer_no: &str) -> Outcome {
    match customer_no {
        "087800001232" => Outcome::Failure,
        "087800001233" => Outcome::Pending(true),
        "087800001234" => Outcome::Pending(false),
        _ => Outcome::Success,
    }
}

/// The serial number of the §1.6 success number.
const TEST_SN: &str = "1234567890";

/// What a postpaid customer number does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PostpaidScript {
    /// The inquiry fails (`Gagal`, rc 02).
    InquiryFails,
    /// The inquiry finds `sheets` bill sheets; the payment ends as the outcome says.
    Bill(u32, Outcome),
}

/// One row of the postpaid test table of §1.6: success numbers (index + 1 sheets),
/// inquiry fails, payment fails, pending then success (index + 1 sheets), pending then
/// failure.
struct Row {
    sku: &'static str,
    success: &'static [&'static str],
    inquiry_fails: &'static str,
    payment_fails: &'static str,
    pending_success: &'static [&'static str],
    pending_failure: &'static str,
}

const fn row(
    sku: &'static str,
    success: &'static [&'static str],
    fails: [&'static str; 2],
    pending_success: &'static [&'static str],
    pending_failure: &'static str,
) -> Row {
    Row {
        sku,
        success,
        inquiry_fails: fails[0],
        payment_fails: fails[1],
        pending_success,
        pending_failure,
    }
}

/// §1.6's postpaid table (SAMSAT left out: its numbers are pairs).
const POSTPAID: &[Row] = &[
    row(
        "pln",
        &["530000000001", "530000000002"],
        ["530000000003", "530000000006"],
        &["630000000001", "630000000002"],
        "630000000006",
    ),
    row(
        "pdam",
        &["1013226"],
        ["1013227", "1013230"],
        &["2013226"],
        "2013230",
    ),
    row(
        "internet",
        &["6391601001"],
        ["6391601002", "6391601005"],
        &["7391601001"],
        "7391601005",
    ),
    row(
        "bpjs",
        &["8801234560001"],
        ["8801234560002", "8801234560005"],
        &["9801234560001"],
        "9801234560005",
    ),
    row(
        "multifinance",
        &["6391601201"],
        ["6391601202", "6391601205"],
        &["7391601201"],
        "7391601205",
    ),
    row(
        "cimahi",
        &["329801092375999991"],
        ["329801092375999992", "329801092375999995"],
        &["429801092375999991"],
        "429801092375999995",
    ),
    row(
        "pdl",
        &["3298010921"],
        ["3298010922", "3298010923"],
        &["4298010921"],
        "4298010923",
    ),
    row(
        "pgas",
        &["0110014601", "0110014602"],
        ["0110014603", "0110014605"],
        &["1110014601", "1110014602"],
        "1110014605",
    ),
    row(
        "tv",
        &["127246500101"],
        ["127246500102", "127246500105"],
        &["227246500101"],
        "227246500105",
    ),
    row(
        "bpjstk",
        &["8102051011270001"],
        ["8102051011270002", "8102051011270003"],
        &["9102051011270001"],
        "9102051011270003",
    ),
    row(
        "bpjstkpu",
        &["400000100001"],
        ["400000100002", "400000100003"],
        &["500000100001"],
        "500000100003",
    ),
    row(
        "plnnontaglist",
        &["3225030005921"],
        ["3225030005922", "3225030005923"],
        &["4225030005921"],
        "4225030005923",
    ),
    row(
        "emoney",
        &["082100000001"],
        ["082100000002", "082100000003"],
        &["082110000001"],
        "082110000003",
    ),
    row(
        "hp",
        &["081234554320"],
        ["081234554321", "081234554324"],
        &["081244554320"],
        "081244554324",
    ),
];

/// The script of a postpaid customer number; a number outside §1.6's table has one bill
/// sheet and pays.
pub(crate) fn postpaid_script(sku: &str, customer_no: &str) -> PostpaidScript {
    let Some(row) = POSTPAID.iter().find(|r| r.sku.eq_ignore_ascii_case(sku)) else {
        return PostpaidScript::Bill(1, Outcome::Success);
    };
    let sheets = |numbers: &[&str]| {
        let index = numbers.iter().position(|n| *n == customer_no)?;
        u32::try_from(index + 1).ok()
    };
    if let Some(n) = sheets(row.success) {
        PostpaidScript::Bill(n, Outcome::Success)
    } else if let Some(n) = sheets(row.pending_success) {
        PostpaidScript::Bill(n, Outcome::Pending(true))
    } else if customer_no == row.inquiry_fails {
        PostpaidScript::InquiryFails
    } else if customer_no == row.payment_fails {
        PostpaidScript::Bill(1, Outcome::Failure)
    } else if customer_no == row.pending_failure {
        PostpaidScript::Bill(1, Outcome::Pending(false))
    } else {
        PostpaidScript::Bill(1, Outcome::Success)
    }
}

/// Test names: the simulator's customers are fictitious.
const NAMES: &[&str] = &[
    "SHINTA HANDAYANI",
    "BUDI SANTOSO",
    "SITI RAHAYU",
    "AGUS SETIAWAN",
    "DEWI LESTARI",
    "RUDI HARTONO",
];

/// The (fictitious) name on a customer number, the same every time.
pub(crate) fn customer_name(customer_no: &str) -> &'static str {
    let sum: usize = customer_no.bytes().map(usize::from).sum();
    NAMES[sum % NAMES.len()]
}

/// PLN prepaid: the tariff and power every simulated meter has.
pub(crate) const PLN_TARIFF: &str = "R1M";
/// PLN prepaid: the power every simulated meter has, in VA.
pub(crate) const PLN_POWER_VA: u32 = 900;

/// The serial number a successful purchase of `product` for `customer_no` carries: a PLN
/// token `dddd-dddd-dddd-dddd-dddd/NAME/R1M/900VA/14.5KWH` for PLN prepaid (§1.7), §1.6's
/// `1234567890` for its success number, else 16 random digits.
pub(crate) fn prepaid_sn(product: &SimProduct, customer_no: &str) -> String {
    if product.issues_pln_token() {
        return pln_token_sn(customer_no, product.price);
    }
    if customer_no == "087800001230" {
        return TEST_SN.to_owned();
    }
    digits(16)
}

fn pln_token_sn(customer_no: &str, price: i64) -> String {
    let groups: Vec<String> = (0..5).map(|_| digits(4)).collect();
    // About Rp 1,400 per kWh once taxes are taken: pln20 (20,300) gives 14.5 kWh.
    let tenths = price / 140;
    format!(
        "{}/{}/{PLN_TARIFF}/{PLN_POWER_VA}VA/{}.{}KWH",
        groups.join("-"),
        customer_name(customer_no),
        tenths / 10,
        tenths % 10
    )
}

/// The serial number of a paid bill: a 32-hex reference for PLN (§1.3.6), `BP…JS` for
/// BPJS, `S…N` otherwise (§1.6's samples).
pub(crate) fn postpaid_sn(style: BillStyle) -> String {
    match style {
        BillStyle::Pln => hex::encode_upper(rand::random::<[u8; 16]>()),
        BillStyle::Bpjs => format!("BP{}JS", digits(10)),
        BillStyle::Pdam | BillStyle::Other => format!("S{}N", digits(10)),
    }
}

fn digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// Which `desc` a bill carries (§1.3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BillStyle {
    Pln,
    Pdam,
    Bpjs,
    Other,
}

impl BillStyle {
    fn of(product: &SimProduct) -> Self {
        let brand = product.brand.to_ascii_uppercase();
        if brand.starts_with("PLN") {
            Self::Pln
        } else if brand.starts_with("PDAM") {
            Self::Pdam
        } else if brand.starts_with("BPJS") {
            Self::Bpjs
        } else {
            Self::Other
        }
    }
}

/// A postpaid bill as an inquiry found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bill {
    pub(crate) customer_name: String,
    pub(crate) style: BillStyle,
    /// `YYYYMM` of each sheet, oldest first.
    periods: Vec<String>,
    fees: PostpaidFees,
    meter_start: u32,
}

impl Bill {
    /// The bill of `customer_no` with `sheets` sheets: the months before `today`'s.
    pub(crate) fn new(product: &SimProduct, customer_no: &str, sheets: u32, today: Date) -> Self {
        let month = i64::from(today.year()) * 12 + i64::from(u8::from(today.month())) - 1;
        let periods = (1..=i64::from(sheets))
            .rev()
            .map(|back| {
                let index = month - back;
                format!("{:04}{:02}", index / 12, index % 12 + 1)
            })
            .collect();
        let meter_start = 10_000 + (customer_no.bytes().map(u32::from).sum::<u32>() % 1_000) * 7;
        Self {
            customer_name: customer_name(customer_no).to_owned(),
            style: BillStyle::of(product),
            periods,
            fees: PostpaidFees {
                bill: product.bill,
                admin: product.admin,
                penalty: product.penalty,
                commission: product.commission,
            },
            meter_start,
        }
    }

    fn sheets(&self) -> i64 {
        i64::try_from(self.periods.len()).unwrap_or(i64::MAX)
    }

    /// `admin`: the admin fee of every sheet.
    pub(crate) fn admin(&self) -> i64 {
        self.fees.admin * self.sheets()
    }

    /// `selling_price`: what the customer pays, bill + admin + penalty of every sheet.
    pub(crate) fn selling_price(&self) -> i64 {
        (self.fees.bill + self.fees.admin + self.fees.penalty) * self.sheets()
    }

    /// `price`: what the deposit is debited, the selling price less the commission.
    pub(crate) fn price(&self) -> i64 {
        self.selling_price() - self.fees.commission * self.sheets()
    }

    /// `desc` (§1.3.5); a paid PLN bill's details also carry the meter readings.
    pub(crate) fn desc(&self, paid: bool) -> Value {
        let detail: Vec<Value> = self
            .periods
            .iter()
            .enumerate()
            .map(|(i, period)| self.detail(i, period, paid))
            .collect();
        let sheets = self.periods.len();
        match self.style {
            BillStyle::Pln => json!({
                "tarif": "R1", "daya": 1300, "lembar_tagihan": sheets, "detail": detail,
            }),
            BillStyle::Pdam => json!({
                "tarif": "4A", "lembar_tagihan": sheets, "alamat": "JL. MERDEKA NO. 10",
                "jatuh_tempo": "20", "detail": detail,
            }),
            BillStyle::Bpjs => json!({
                "jumlah_peserta": "1", "lembar_tagihan": sheets, "alamat": "JAKARTA PUSAT",
                "detail": detail,
            }),
            BillStyle::Other => json!({"lembar_tagihan": sheets, "detail": detail}),
        }
    }

    fn detail(&self, index: usize, period: &str, paid: bool) -> Value {
        let fees = &self.fees;
        let periode = match self.style {
            // BPJS counts months (§1.3.5).
            BillStyle::Bpjs => "01".to_owned(),
            BillStyle::Pln | BillStyle::Pdam | BillStyle::Other => period.to_owned(),
        };
        let mut detail = json!({
            "periode": periode,
            "nilai_tagihan": fees.bill.to_string(),
            "admin": fees.admin.to_string(),
            "denda": fees.penalty.to_string(),
        });
        let with_meters = match self.style {
            BillStyle::Pln => paid,
            BillStyle::Pdam => true,
            BillStyle::Bpjs | BillStyle::Other => false,
        };
        if with_meters {
            let start = self.meter_start + u32::try_from(index).unwrap_or(0) * 150;
            detail["meter_awal"] = json!(format!("{start:08}"));
            detail["meter_akhir"] = json!(format!("{:08}", start + 150));
        }
        if self.style == BillStyle::Pdam {
            detail["biaya_lain"] = json!("0");
        }
        detail
    }
}
