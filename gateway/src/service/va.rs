//! Virtual-account rules: validation, routing with failover, timeouts resolved by inquiry
//! (never by a blind retry), changes while unpaid, cancellation, and the product-facing view.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use contracts::va::{CreateVa, IssuedVa, PaymentRule, ProviderVaState, UpdateVa, VaHandle};
use contracts::{
    Amount, Customer, ErrorKind, OurReference, ProviderError, ProviderReference, VirtualAccounts,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::http::ApiError;
use crate::service::fields::{self, field, rfc3339};
use crate::store::calls::{self, Call};
use crate::store::va::{self, Issued, VaRow, status};
use crate::store::{events, from_ms, new_id, now_ms, to_ms};

/// A VA as products see it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VirtualAccount {
    /// `va_…`
    pub id: String,
    /// The product's own reference, unique per product.
    pub reference: String,
    /// The provider instance that issued it.
    pub provider: Option<String>,
    /// The bank the VA lives at.
    pub bank: Option<String>,
    /// The number the customer pays to.
    pub va_number: Option<String>,
    /// Billed amount, whole rupiah.
    pub amount: i64,
    /// Paid so far, whole rupiah.
    pub paid_amount: i64,
    /// `active`, `paid`, `expired`, `cancelled`; `pending` while the provider's answer is
    /// not yet known (resolved by inquiry).
    pub status: String,
    /// Who pays.
    pub customer: CustomerView,
    /// Shown to the payer where the bank supports it.
    pub description: Option<String>,
    /// RFC 3339.
    pub expires_at: String,
    /// RFC 3339, when paid.
    pub paid_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Integrity flags for operators (`overpaid`, `billed_amount_mismatch`, …).
    pub flags: Vec<String>,
    /// Increases with every change, so consumers can drop stale events.
    pub version: i64,
}

/// Customer fields.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerView {
    /// Name on the VA.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

impl From<&VaRow> for VirtualAccount {
    fn from(v: &VaRow) -> Self {
        let status = match v.status.as_str() {
            status::ISSUING => status::PENDING.to_owned(),
            other => other.to_owned(),
        };
        VirtualAccount {
            id: v.id.clone(),
            reference: v.reference.clone(),
            provider: v.provider.clone(),
            bank: v.bank.clone(),
            va_number: v.va_number.clone(),
            amount: v.amount,
            paid_amount: v.paid_amount,
            status,
            customer: CustomerView::from(&v.customer),
            description: v.description.clone(),
            expires_at: rfc3339(v.expires_at),
            paid_at: v.paid_at.map(rfc3339),
            created_at: rfc3339(v.created_at),
            flags: v.flags.clone(),
            version: v.version,
        }
    }
}

/// The event payload for a VA: ids, status and amounts; no personal data (RELIABILITY S-12).
pub fn event_data(v: &VaRow) -> serde_json::Value {
    json!({
        "id": v.id,
        "reference": v.reference,
        "provider": v.provider,
        "bank": v.bank,
        "va_number": v.va_number,
        "amount": v.amount,
        "paid_amount": v.paid_amount,
        "status": v.status,
        "expires_at": rfc3339(v.expires_at),
        "paid_at": v.paid_at.map(rfc3339),
        "flags": v.flags,
        "version": v.version,
    })
}

/// A request to issue a VA.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVirtualAccount {
    /// The product's reference, unique per product (1-64 characters).
    pub reference: String,
    /// Billed amount, whole rupiah, at least 1.
    pub amount: i64,
    /// Who pays.
    pub customer: CustomerView,
    /// RFC 3339, in the future.
    pub expires_at: String,
    /// Free text, up to 100 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// A provider instance from the product's route; default: the route in order.
    #[serde(default)]
    pub provider: Option<String>,
    /// `exact` (default) or `partial` (several payments until the amount is reached).
    #[serde(default)]
    pub payment_rule: Option<PaymentRuleView>,
}

/// How a VA accepts payments.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PaymentRuleView {
    /// The billed amount, once.
    Exact,
    /// Several payments until the amount is reached.
    Partial,
}

/// A validated issuance request.
#[derive(Clone, Debug)]
pub struct Validated {
    reference: String,
    amount: Amount,
    customer: Customer,
    expires_at: OffsetDateTime,
    description: Option<String>,
    provider: Option<String>,
    rule: PaymentRule,
}

/// Checks every field and lists every problem at once.
pub fn validate(req: NewVirtualAccount) -> Result<Validated, ApiError> {
    let mut errors = Vec::new();
    fields::reference(&req.reference, &mut errors);
    let amount = fields::amount(req.amount, &mut errors);
    let customer = fields::customer(&req.customer, &mut errors);
    let now = OffsetDateTime::now_utc();
    let expires_at = match OffsetDateTime::parse(&req.expires_at, &Rfc3339) {
        Ok(t) if t > now => Some(t),
        Ok(_) => {
            errors.push(field("expires_at", "must be in the future"));
            None
        }
        Err(_) => {
            errors.push(field("expires_at", "must be an RFC 3339 time"));
            None
        }
    };
    if req
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 100)
    {
        errors.push(field("description", "must be at most 100 characters"));
    }
    match (amount, expires_at) {
        (Some(amount), Some(expires_at)) if errors.is_empty() => Ok(Validated {
            reference: req.reference,
            amount,
            customer,
            expires_at,
            description: req.description,
            provider: req.provider,
            rule: match req.payment_rule {
                Some(PaymentRuleView::Partial) => PaymentRule::Partial,
                _ => PaymentRule::Exact,
            },
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

fn route(
    state: &AppState,
    client_id: &str,
    requested: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    let routes = state
        .client(client_id)
        .map(|c| c.config.routes.virtual_accounts.clone())
        .unwrap_or_default();
    match requested {
        Some(p) if routes.iter().any(|r| r == p) => Ok(vec![p.to_owned()]),
        Some(_) => Err(ApiError::validation(vec![field(
            "provider",
            "is not in this client's route",
        )])),
        None if routes.is_empty() => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_route",
            "No route",
            "no provider instance is configured for this client's virtual accounts",
        )),
        None => Ok(routes),
    }
}

/// Issues a VA: stores it as `issuing` (the recovery point), then asks each provider of the
/// route in turn. `Unavailable` fails over; an ambiguous answer (timeout, garbled) is
/// resolved by an inquiry with our reference before anything else happens.
pub async fn issue(state: &AppState, client_id: &str, req: Validated) -> Result<VaRow, ApiError> {
    let route = route(state, client_id, req.provider.as_deref())?;
    let now = now_ms();
    let row = VaRow {
        id: new_id("va"),
        client_id: client_id.to_owned(),
        reference: req.reference.clone(),
        provider: None,
        bank: None,
        va_number: None,
        provider_reference: None,
        amount: req.amount.rupiah(),
        paid_amount: 0,
        status: status::ISSUING.to_owned(),
        payment_rule: match req.rule {
            PaymentRule::Exact => "exact".into(),
            PaymentRule::Partial => "partial".into(),
        },
        customer: req.customer.clone(),
        description: req.description.clone(),
        expires_at: to_ms(req.expires_at),
        paid_at: None,
        flags: Vec::new(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    insert_new(state, &row).await?;
    let create = CreateVa::new(
        OurReference(row.id.clone()),
        req.amount,
        req.customer,
        req.expires_at,
    )
    .with_description(req.description)
    .with_rule(req.rule);
    let mut attempt = Attempt {
        state,
        client_id,
        va_id: &row.id,
        va_number: None,
        calls: Vec::new(),
    };
    attempt.run(&route, &create).await
}

async fn insert_new(state: &AppState, row: &VaRow) -> Result<(), ApiError> {
    let insert = row.clone();
    let outcome = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                if va::insert(conn, &insert).await? {
                    Ok(None)
                } else {
                    va::id_by_reference(conn, &insert.client_id, &insert.reference).await
                }
            })
        })
        .await?;
    match outcome {
        None => Ok(()),
        Some(existing) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "reference_exists",
            "Reference exists",
            "a virtual account with this reference already exists",
        )
        .with_extra(json!({ "id": existing }))),
    }
}

struct Attempt<'a> {
    state: &'a AppState,
    client_id: &'a str,
    va_id: &'a str,
    /// The number the gateway assigned for the current instance, when it assigns numbers.
    va_number: Option<String>,
    calls: Vec<Call>,
}

enum Inquired {
    Issued(IssuedVa),
    Absent,
    Unknown,
}

impl Attempt<'_> {
    async fn run(&mut self, route: &[String], create: &CreateVa) -> Result<VaRow, ApiError> {
        let mut last: Option<ProviderError> = None;
        for instance in route {
            let Some(adapter) = self.state.registry().virtual_accounts(instance) else {
                continue;
            };
            if !adapter.supports_rule(create.rule) {
                last = Some(ProviderError::new(
                    ErrorKind::Rejected,
                    "payment rule not supported by this provider",
                ));
                continue;
            }
            let create = match adapter.numbering().serial_digits() {
                Some(digits) => match self.assign_serial(instance, &adapter, digits).await {
                    Ok(serial) => create.clone().with_serial(Some(serial)),
                    Err(e) => return Err(self.fail(e).await),
                },
                None => create.clone(),
            };
            let create = &create;
            let started = Instant::now();
            let result = adapter.create(create).await;
            self.record(instance, "va.create", started, &result);
            match result {
                Ok(issued) => return self.finish(instance, issued).await,
                Err(e) if e.is_retryable() => last = Some(e),
                Err(e) if e.kind.is_ambiguous() || e.kind == ErrorKind::Duplicate => {
                    match self.inquire(instance, &adapter, create).await {
                        Inquired::Issued(issued) => return self.finish(instance, issued).await,
                        Inquired::Absent => last = Some(e),
                        Inquired::Unknown => return Err(self.pending(instance).await),
                    }
                }
                Err(e) => return Err(self.fail(e).await),
            }
        }
        let e = last
            .unwrap_or_else(|| ProviderError::new(ErrorKind::Unavailable, "no provider available"));
        Err(self.fail(e).await)
    }

    fn record<T>(
        &mut self,
        instance: &str,
        operation: &'static str,
        started: Instant,
        result: &Result<T, ProviderError>,
    ) {
        self.calls.push(
            Call::finished(Some(self.client_id), instance, operation, started, result)
                .for_resource(self.va_id),
        );
    }

    /// Allocates the next serial of `instance` and records the number it becomes on the VA
    /// before the provider is called, so an inquiry after a timeout can name it.
    async fn assign_serial(
        &mut self,
        instance: &str,
        adapter: &Arc<dyn VirtualAccounts>,
        digits: u8,
    ) -> Result<u64, ProviderError> {
        let (id, provider, adapter) = (self.va_id.to_owned(), instance.to_owned(), adapter.clone());
        let limit = 10u64.checked_pow(u32::from(digits)).unwrap_or(u64::MAX);
        let assigned = self
            .state
            .db()
            .write(move |conn| {
                Box::pin(async move {
                    let serial = va::allocate_serial(conn, &provider).await?;
                    let serial = u64::try_from(serial).unwrap_or(u64::MAX);
                    if serial >= limit {
                        return Ok(Err(format!(
                            "every {digits}-digit VA serial of {provider} is used"
                        )));
                    }
                    let Some(number) = adapter.va_number_for(serial) else {
                        return Ok(Err(format!("{provider} cannot format VA serial {serial}")));
                    };
                    va::assign_number(conn, &id, &provider, &number, now_ms()).await?;
                    Ok(Ok((serial, number)))
                })
            })
            .await
            .map_err(|e| ProviderError::new(ErrorKind::Unavailable, e.to_string()))?;
        match assigned {
            Ok((serial, number)) => {
                self.va_number = Some(number);
                Ok(serial)
            }
            Err(message) => {
                tracing::error!(provider = %instance, %message, "no VA number");
                Err(ProviderError::new(ErrorKind::Misconfigured, message))
            }
        }
    }

    /// Asks the provider whether our reference exists after an ambiguous create.
    async fn inquire(
        &mut self,
        instance: &str,
        adapter: &Arc<dyn VirtualAccounts>,
        create: &CreateVa,
    ) -> Inquired {
        let handle = VaHandle::new(
            create.reference.clone(),
            None,
            self.va_number.clone(),
            create.amount,
        );
        let started = Instant::now();
        let result = adapter.inquire(&handle).await;
        self.record(instance, "va.inquire", started, &result);
        match result {
            Ok(report) => match (report.va_number, report.state) {
                (Some(number), ProviderVaState::Active | ProviderVaState::Paid) => {
                    Inquired::Issued(IssuedVa::new(
                        number,
                        report
                            .bank
                            .unwrap_or_else(|| instance_bank(self.state, instance)),
                        report.provider_reference,
                    ))
                }
                _ => Inquired::Unknown,
            },
            Err(e) if e.kind == ErrorKind::NotFound => Inquired::Absent,
            Err(_) => Inquired::Unknown,
        }
    }

    async fn finish(&mut self, instance: &str, issued: IssuedVa) -> Result<VaRow, ApiError> {
        let issued = Issued {
            provider: instance.to_owned(),
            bank: issued.bank,
            va_number: issued.va_number,
            provider_reference: issued.provider_reference.map(|r| r.0),
        };
        let (id, calls) = (self.va_id.to_owned(), std::mem::take(&mut self.calls));
        let row = self
            .state
            .db()
            .write(move |conn| {
                Box::pin(async move {
                    calls::record(conn, &calls).await?;
                    match va::mark_issued(conn, &id, &issued, now_ms()).await? {
                        Some(row) => Ok(Some(row)),
                        None => va::get_unscoped(conn, &id).await,
                    }
                })
            })
            .await?;
        row.ok_or_else(|| ApiError::internal(&"issued VA vanished"))
    }

    async fn pending(&mut self, instance: &str) -> ApiError {
        let check_at =
            now_ms() + (self.state.settings().scheduler.inquiry_delay_secs * 1000.0) as i64;
        let (id, provider, calls) = (
            self.va_id.to_owned(),
            instance.to_owned(),
            std::mem::take(&mut self.calls),
        );
        let stored = self
            .state
            .db()
            .write(move |conn| {
                Box::pin(async move {
                    calls::record(conn, &calls).await?;
                    va::mark_pending(conn, &id, &provider, check_at, now_ms()).await
                })
            })
            .await;
        if let Err(e) = stored {
            return ApiError::storage(&e);
        }
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "provider_timeout",
            "Provider timeout",
            "the provider did not answer in time; the virtual account is pending and will be resolved by status inquiry",
        )
        .with_extra(json!({ "id": self.va_id, "resource_status": "pending" }))
    }

    /// No provider issued the VA: forget the row so the reference can be used again.
    async fn fail(&mut self, e: ProviderError) -> ApiError {
        let (id, calls) = (self.va_id.to_owned(), std::mem::take(&mut self.calls));
        let _ = self
            .state
            .db()
            .write(move |conn| {
                Box::pin(async move {
                    calls::record(conn, &calls).await?;
                    va::delete_unissued(conn, &id).await
                })
            })
            .await;
        provider_error(e)
    }
}

fn instance_bank(state: &AppState, instance: &str) -> String {
    state
        .registry()
        .get(instance)
        .map(|i| i.kind.to_ascii_uppercase())
        .unwrap_or_default()
}

/// Maps a provider failure to the product-facing problem.
pub fn provider_error(e: ProviderError) -> ApiError {
    let extra = json!({ "provider_code": e.provider_code });
    let api = match e.kind {
        ErrorKind::Unavailable | ErrorKind::RateLimited => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            "Provider unavailable",
            "no provider could take the request; nothing was created",
        )
        .with_retry_after(5),
        ErrorKind::Timeout | ErrorKind::Protocol => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "provider_timeout",
            "Provider timeout",
            "the provider's answer was not usable in time; retry later",
        ),
        ErrorKind::NotSupported => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "operation_not_supported",
            "Not supported",
            e.message.clone(),
        ),
        ErrorKind::Conflict => ApiError::new(
            StatusCode::CONFLICT,
            "provider_conflict",
            "Provider refused the change",
            e.message.clone(),
        ),
        ErrorKind::Unauthorized | ErrorKind::Misconfigured => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_misconfigured",
            "Provider configuration error",
            "the provider refused the gateway's credentials or configuration",
        ),
        _ => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "provider_rejected",
            "Provider rejected the request",
            e.message.clone(),
        ),
    };
    api.with_extra(extra)
}

fn handle(v: &VaRow) -> Result<VaHandle, ApiError> {
    let amount = Amount::new(v.amount).map_err(|e| ApiError::internal(&e))?;
    Ok(VaHandle::new(
        OurReference(v.id.clone()),
        v.provider_reference.clone().map(ProviderReference),
        v.va_number.clone(),
        amount,
    ))
}

fn adapter_of(state: &AppState, v: &VaRow) -> Result<Arc<dyn VirtualAccounts>, ApiError> {
    v.provider
        .as_deref()
        .and_then(|p| state.registry().virtual_accounts(p))
        .ok_or_else(|| ApiError::internal(&"VA provider instance is not configured"))
}

fn not_changeable(v: &VaRow) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "va_not_changeable",
        "Virtual account cannot change",
        format!("the virtual account is {}", VirtualAccount::from(v).status),
    )
}

/// A change to an unpaid VA.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VirtualAccountPatch {
    /// New amount, whole rupiah, above what is already paid.
    #[serde(default)]
    pub amount: Option<i64>,
    /// New expiry, RFC 3339, in the future.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// Changes amount and/or expiry while the VA is active, at the provider first.
pub async fn update(
    state: &AppState,
    client_id: &str,
    id: &str,
    patch: VirtualAccountPatch,
) -> Result<VaRow, ApiError> {
    let v = va::get(state.db(), client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("virtual account"))?;
    let mut errors = Vec::new();
    let amount = patch.amount.unwrap_or(v.amount);
    if Amount::new(amount).is_err() || amount < 1 || amount <= v.paid_amount {
        errors.push(field(
            "amount",
            "must be a whole number of rupiah above the amount already paid",
        ));
    }
    let expires_at = match patch
        .expires_at
        .as_deref()
        .map(|t| OffsetDateTime::parse(t, &Rfc3339))
    {
        None => from_ms(v.expires_at),
        Some(Ok(t)) if t > OffsetDateTime::now_utc() => t,
        Some(_) => {
            errors.push(field(
                "expires_at",
                "must be an RFC 3339 time in the future",
            ));
            OffsetDateTime::now_utc()
        }
    };
    if patch.amount.is_none() && patch.expires_at.is_none() {
        errors.push(field("amount", "give amount and/or expires_at"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if v.status != status::ACTIVE {
        return Err(not_changeable(&v));
    }
    let adapter = adapter_of(state, &v)?;
    let amount = Amount::new(amount).map_err(|e| ApiError::internal(&e))?;
    let request = UpdateVa::new(
        handle(&v)?,
        amount,
        expires_at,
        v.customer.clone(),
        v.description.clone(),
    );
    let started = Instant::now();
    let result = adapter.update(&request).await;
    record_call(state, client_id, &v, "va.update", started, &result).await;
    result.map_err(provider_error)?;
    let (id, expires_ms) = (v.id.clone(), to_ms(expires_at));
    let updated = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                va::update_terms(conn, &id, amount.rupiah(), expires_ms, now_ms()).await
            })
        })
        .await?;
    updated.ok_or_else(|| not_changeable(&v))
}

/// Cancels an unpaid VA at its provider, then here, and announces it.
pub async fn cancel(state: &AppState, client_id: &str, id: &str) -> Result<VaRow, ApiError> {
    let v = va::get(state.db(), client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("virtual account"))?;
    if v.status != status::ACTIVE || v.paid_amount > 0 {
        return Err(not_changeable(&v));
    }
    let adapter = adapter_of(state, &v)?;
    let started = Instant::now();
    let result = adapter.cancel(&handle(&v)?).await;
    record_call(state, client_id, &v, "va.cancel", started, &result).await;
    result.map_err(provider_error)?;
    let id = v.id.clone();
    let cancelled = state
        .db()
        .write(move |conn| {
            Box::pin(async move {
                let now = now_ms();
                let row = va::transition(conn, &id, status::ACTIVE, status::CANCELLED, now).await?;
                if let Some(row) = &row {
                    events::enqueue(
                        conn,
                        &row.client_id,
                        "virtual_account.cancelled",
                        &row.id,
                        event_data(row),
                        now,
                    )
                    .await?;
                }
                Ok(row)
            })
        })
        .await?;
    state.wake_outbox();
    cancelled.ok_or_else(|| not_changeable(&v))
}

async fn record_call<T>(
    state: &AppState,
    client_id: &str,
    v: &VaRow,
    operation: &'static str,
    started: Instant,
    result: &Result<T, ProviderError>,
) {
    let provider = v.provider.as_deref().unwrap_or_default();
    let call =
        Call::finished(Some(client_id), provider, operation, started, result).for_resource(&v.id);
    let _ = state
        .db()
        .write(move |conn| Box::pin(async move { calls::record(conn, &[call]).await }))
        .await;
}

/// Resolves a VA whose creation outcome is unknown, by inquiry (scheduler). Returns
/// whether it is settled (issued or known absent).
pub async fn resolve_unknown(state: &AppState, id: &str) -> Result<bool, crate::store::StoreError> {
    let id_owned = id.to_owned();
    let Some(v) = state
        .db()
        .write(move |conn| Box::pin(async move { va::get_unscoped(conn, &id_owned).await }))
        .await?
    else {
        return Ok(true);
    };
    let provider = v.provider.clone().or_else(|| {
        state
            .client(&v.client_id)
            .and_then(|c| c.config.routes.virtual_accounts.first().cloned())
    });
    let Some((provider, adapter)) =
        provider.and_then(|p: String| state.registry().virtual_accounts(&p).map(|a| (p, a)))
    else {
        return Ok(false);
    };
    let Ok(amount) = Amount::new(v.amount) else {
        return Ok(false);
    };
    let mut attempt = Attempt {
        state,
        client_id: &v.client_id,
        va_id: &v.id,
        va_number: v.va_number.clone(),
        calls: Vec::new(),
    };
    let create = CreateVa::new(
        OurReference(v.id.clone()),
        amount,
        v.customer.clone(),
        from_ms(v.expires_at),
    );
    match attempt.inquire(&provider, &adapter, &create).await {
        Inquired::Issued(issued) => {
            let _ = attempt.finish(&provider, issued).await;
            Ok(true)
        }
        Inquired::Absent => {
            let id = v.id.clone();
            state
                .db()
                .write(move |conn| {
                    Box::pin(async move { va::mark_failed(conn, &id, now_ms()).await })
                })
                .await?;
            Ok(true)
        }
        Inquired::Unknown => Ok(false),
    }
}
