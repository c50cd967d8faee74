//! The runtime registry: provider instance name → its capabilities, built from the closed
//! [`ProviderConfig`] enum (the one `build()` match listing adapters) and wrapped in the
//! gateway's decorators.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::biller::{
    BillInquiry, BillerOrder, BillerProduct, BillerTransaction, CustomerInfo, SettlementRecord,
};
use contracts::esign::{
    DocumentStatus, RegisterSigner, Resubmission, SignerStatus, UploadDocument,
};
use contracts::messaging::{OtpMessage, SentMessage, TemplateMessage};
use contracts::payment::{
    CreatePayment, PaymentHandle, PaymentStatusReport, RefundOutcome, RefundRequest, StartedPayment,
};
use contracts::va::{
    CreateVa, IssuedVa, Numbering, PaymentRule, UpdateVa, VaHandle, VaStatusReport,
};
use contracts::{
    Amount, Biller, Capabilities, ESignature, ErrorKind, InboundNotifications, Messaging, Payments,
    ProviderError, ProviderReference, VirtualAccounts,
};

use time::Date;

use crate::config::{ProviderConfig, Settings};
use crate::metrics;

/// One configured provider instance.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Its name.
    pub name: String,
    /// Its adapter kind.
    pub kind: &'static str,
    /// What it can do (decorated).
    pub capabilities: Capabilities,
}

/// Provider instances by name.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    instances: BTreeMap<String, Instance>,
    switches: Switches,
}

/// The provider code of the error a switched-off instance answers with.
pub const SWITCHED_OFF: &str = "gateway.switched_off";

/// The instances operators have switched off, shared by every decorated capability.
///
/// A switched-off instance gets no new business: creating a VA, starting a payment or a
/// refund, a bill inquiry, validation, purchase or payment, registering or resubmitting a
/// signer, uploading a document and sending a message answer `Unavailable` (provider code
/// [`SWITCHED_OFF`]) before anything is sent, so a VA fails over to the next instance of
/// its route. Status inquiries, balances, catalogues, settlement reads, VA updates and
/// cancellations and callbacks go on, so nothing pending is stranded.
#[derive(Clone, Debug, Default)]
pub struct Switches(Arc<std::sync::RwLock<BTreeSet<String>>>);

impl Switches {
    /// Whether `instance` is switched off.
    pub fn is_off(&self, instance: &str) -> bool {
        self.0.read().is_ok_and(|off| off.contains(instance))
    }

    /// The switched-off instances.
    pub fn off(&self) -> BTreeSet<String> {
        self.0.read().map(|off| off.clone()).unwrap_or_default()
    }

    /// Replaces the set (loaded from the database).
    pub fn replace(&self, off: BTreeSet<String>) {
        if let Ok(mut current) = self.0.write() {
            *current = off;
        }
    }

    fn admit(&self, instance: &str) -> Result<(), ProviderError> {
        if self.is_off(instance) {
            Err(ProviderError::with_code(
                ErrorKind::Unavailable,
                SWITCHED_OFF,
                "the instance is switched off by an operator",
            ))
        } else {
            Ok(())
        }
    }
}

/// An instance could not be built.
#[derive(Debug, thiserror::Error)]
#[error("provider instance {instance}: {message}")]
pub struct BuildError {
    instance: String,
    message: String,
}

impl Registry {
    /// Builds every configured instance. No I/O happens here.
    pub fn build(settings: &Settings) -> Result<Registry, BuildError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| BuildError {
                instance: "*".into(),
                message: e.to_string(),
            })?;
        let switches = Switches::default();
        let mut instances = BTreeMap::new();
        for (name, config) in &settings.providers {
            let capabilities =
                build_one(name, config, settings, http.clone()).map_err(|message| BuildError {
                    instance: name.clone(),
                    message,
                })?;
            let instance = Instance {
                name: name.clone(),
                kind: config.kind(),
                capabilities: decorate(name, capabilities, &switches),
            };
            instances.insert(name.clone(), instance);
        }
        Ok(Registry {
            instances,
            switches,
        })
    }

    /// A registry from ready-made instances (tests).
    pub fn from_instances(instances: Vec<Instance>) -> Registry {
        let switches = Switches::default();
        let instances = instances
            .into_iter()
            .map(|i| {
                let capabilities = decorate(&i.name, i.capabilities.clone(), &switches);
                (i.name.clone(), Instance { capabilities, ..i })
            })
            .collect();
        Registry {
            instances,
            switches,
        }
    }

    /// The instances operators switched off.
    pub fn switches(&self) -> &Switches {
        &self.switches
    }

    /// The instance called `name`.
    pub fn get(&self, name: &str) -> Option<&Instance> {
        self.instances.get(name)
    }

    /// The VA capability of `name`.
    pub fn virtual_accounts(&self, name: &str) -> Option<Arc<dyn VirtualAccounts>> {
        self.get(name)
            .and_then(|i| i.capabilities.virtual_accounts.clone())
    }

    /// The payments capability of `name`.
    pub fn payments(&self, name: &str) -> Option<Arc<dyn Payments>> {
        self.get(name).and_then(|i| i.capabilities.payments.clone())
    }

    /// The messaging capability of `name`.
    pub fn messaging(&self, name: &str) -> Option<Arc<dyn contracts::Messaging>> {
        self.get(name)
            .and_then(|i| i.capabilities.messaging.clone())
    }

    /// The e-signature capability of `name`.
    pub fn esign(&self, name: &str) -> Option<Arc<dyn contracts::ESignature>> {
        self.get(name).and_then(|i| i.capabilities.esign.clone())
    }

    /// The biller (PPOB) capability of `name`.
    pub fn biller(&self, name: &str) -> Option<Arc<dyn contracts::Biller>> {
        self.get(name).and_then(|i| i.capabilities.biller.clone())
    }

    /// The inbound capability of `name`.
    pub fn inbound(&self, name: &str) -> Option<Arc<dyn InboundNotifications>> {
        self.get(name).and_then(|i| i.capabilities.inbound.clone())
    }

    /// Every instance.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    /// The names of the instances that are billers (PPOB).
    pub fn billers(&self) -> Vec<String> {
        self.instances()
            .filter(|i| i.capabilities.biller.is_some())
            .map(|i| i.name.clone())
            .collect()
    }
}

/// The one match that lists adapters.
fn build_one(
    name: &str,
    config: &ProviderConfig,
    settings: &Settings,
    http: reqwest::Client,
) -> Result<Capabilities, String> {
    let _ = (name, settings, &http);
    match config {
        #[cfg(feature = "bni")]
        ProviderConfig::Bni(c) => adapter_bni::Bni::new(c.clone(), http)
            .map(adapter_bni::Bni::capabilities)
            .map_err(|e| e.to_string()),
        #[cfg(feature = "nicepay")]
        ProviderConfig::Nicepay(c) => {
            let mut c = c.clone();
            if c.notification_url.is_none() {
                c.notification_url = Some(callback_url(settings, name)?);
            }
            adapter_nicepay::Nicepay::new(c, http)
                .map(adapter_nicepay::Nicepay::capabilities)
                .map_err(|e| e.to_string())
        }
        #[cfg(feature = "doku")]
        ProviderConfig::Doku(c) => adapter_doku::Doku::new(c.clone(), http)
            .map(adapter_doku::Doku::capabilities)
            .map_err(|e| e.to_string()),
        #[cfg(feature = "astrapay")]
        ProviderConfig::Astrapay(c) => adapter_astrapay::AstraPay::new(c.clone(), http)
            .map(adapter_astrapay::AstraPay::capabilities)
            .map_err(|e| e.to_string()),
        #[cfg(feature = "whatsapp")]
        ProviderConfig::Whatsapp(c) => adapter_whatsapp::WhatsApp::new(c.clone(), http)
            .map(adapter_whatsapp::WhatsApp::capabilities)
            .map_err(|e| e.to_string()),
        #[cfg(feature = "privyid")]
        ProviderConfig::Privyid(c) => adapter_privyid::PrivyId::new(c.clone(), http)
            .map(adapter_privyid::PrivyId::capabilities)
            .map_err(|e| e.to_string()),
        #[cfg(feature = "digiflazz")]
        ProviderConfig::Digiflazz(c) => adapter_digiflazz::Digiflazz::new(c.clone(), http)
            .map(adapter_digiflazz::Digiflazz::capabilities)
            .map_err(|e| e.to_string()),
    }
}

/// The URL providers call for `instance`: `{public_url}/v1/callbacks/{instance}`.
pub fn callback_url(settings: &Settings, instance: &str) -> Result<url::Url, String> {
    settings
        .server
        .public_url
        .join(&format!("/v1/callbacks/{instance}"))
        .map_err(|e| e.to_string())
}

fn decorate(name: &str, mut capabilities: Capabilities, switches: &Switches) -> Capabilities {
    fn wrap<T: ?Sized>(name: &str, switches: &Switches, inner: Arc<T>) -> Instrumented<T> {
        Instrumented {
            instance: name.to_owned(),
            switches: switches.clone(),
            inner,
        }
    }
    if let Some(inner) = capabilities.virtual_accounts.take() {
        capabilities.virtual_accounts = Some(Arc::new(wrap(name, switches, inner)));
    }
    if let Some(inner) = capabilities.payments.take() {
        capabilities.payments = Some(Arc::new(wrap(name, switches, inner)));
    }
    if let Some(inner) = capabilities.biller.take() {
        capabilities.biller = Some(Arc::new(wrap(name, switches, inner)));
    }
    if let Some(inner) = capabilities.esign.take() {
        capabilities.esign = Some(Arc::new(wrap(name, switches, inner)));
    }
    if let Some(inner) = capabilities.messaging.take() {
        capabilities.messaging = Some(Arc::new(wrap(name, switches, inner)));
    }
    capabilities
}

/// Records latency and outcome of every call, per instance and operation, and refuses new
/// business while the instance is switched off.
#[derive(Debug)]
struct Instrumented<T: ?Sized> {
    instance: String,
    switches: Switches,
    inner: Arc<T>,
}

impl<T: ?Sized> Instrumented<T> {
    fn observe<R>(
        &self,
        operation: &'static str,
        started: Instant,
        result: &Result<R, ProviderError>,
    ) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => e.kind.as_str(),
        };
        let m = metrics::global();
        m.provider_calls
            .get_or_create(&vec![
                ("provider", self.instance.clone()),
                ("operation", operation.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
        m.provider_latency
            .get_or_create(&vec![
                ("provider", self.instance.clone()),
                ("operation", operation.to_owned()),
            ])
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = result {
            tracing::warn!(provider = %self.instance, operation, kind = e.kind.as_str(), code = ?e.provider_code, message = %e.message, "provider call failed");
        }
    }
}

#[async_trait]
impl VirtualAccounts for Instrumented<dyn VirtualAccounts> {
    async fn create(&self, request: &CreateVa) -> Result<IssuedVa, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.create(request).await;
        self.observe("va.create", started, &result);
        result
    }

    async fn update(&self, request: &UpdateVa) -> Result<(), ProviderError> {
        let started = Instant::now();
        let result = self.inner.update(request).await;
        self.observe("va.update", started, &result);
        result
    }

    async fn cancel(&self, handle: &VaHandle) -> Result<(), ProviderError> {
        let started = Instant::now();
        let result = self.inner.cancel(handle).await;
        self.observe("va.cancel", started, &result);
        result
    }

    async fn inquire(&self, handle: &VaHandle) -> Result<VaStatusReport, ProviderError> {
        let started = Instant::now();
        let result = self.inner.inquire(handle).await;
        self.observe("va.inquire", started, &result);
        result
    }

    fn supports_rule(&self, rule: PaymentRule) -> bool {
        self.inner.supports_rule(rule)
    }

    fn numbering(&self) -> Numbering {
        self.inner.numbering()
    }

    fn va_number_for(&self, serial: u64) -> Option<String> {
        self.inner.va_number_for(serial)
    }
}

#[async_trait]
impl Payments for Instrumented<dyn Payments> {
    fn methods(&self) -> &[&'static str] {
        self.inner.methods()
    }

    fn refunds(&self, method: &str) -> bool {
        self.inner.refunds(method)
    }

    async fn create(&self, request: &CreatePayment) -> Result<StartedPayment, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.create(request).await;
        self.observe("payment.create", started, &result);
        result
    }

    async fn status(&self, handle: &PaymentHandle) -> Result<PaymentStatusReport, ProviderError> {
        let started = Instant::now();
        let result = self.inner.status(handle).await;
        self.observe("payment.status", started, &result);
        result
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.refund(request).await;
        self.observe("payment.refund", started, &result);
        result
    }
}

#[async_trait]
impl ESignature for Instrumented<dyn ESignature> {
    async fn register_signer(
        &self,
        request: &RegisterSigner,
    ) -> Result<SignerStatus, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.register_signer(request).await;
        self.observe("esign.register", started, &result);
        result
    }

    async fn resubmit_signer(&self, request: &Resubmission) -> Result<(), ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.resubmit_signer(request).await;
        self.observe("esign.resubmit", started, &result);
        result
    }

    async fn signer_status(
        &self,
        signer: &ProviderReference,
    ) -> Result<SignerStatus, ProviderError> {
        let started = Instant::now();
        let result = self.inner.signer_status(signer).await;
        self.observe("esign.signer_status", started, &result);
        result
    }

    async fn upload_document(
        &self,
        request: &UploadDocument,
    ) -> Result<DocumentStatus, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.upload_document(request).await;
        self.observe("esign.upload", started, &result);
        result
    }

    async fn document_status(
        &self,
        document: &ProviderReference,
    ) -> Result<DocumentStatus, ProviderError> {
        let started = Instant::now();
        let result = self.inner.document_status(document).await;
        self.observe("esign.document_status", started, &result);
        result
    }
}

#[async_trait]
impl Messaging for Instrumented<dyn Messaging> {
    async fn send_template(&self, message: &TemplateMessage) -> Result<SentMessage, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.send_template(message).await;
        self.observe("message.send", started, &result);
        result
    }

    async fn send_otp(&self, message: &OtpMessage) -> Result<SentMessage, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.send_otp(message).await;
        self.observe("message.otp", started, &result);
        result
    }
}

#[async_trait]
impl Biller for Instrumented<dyn Biller> {
    async fn balance(&self) -> Result<Amount, ProviderError> {
        let started = Instant::now();
        let result = self.inner.balance().await;
        self.observe("bill.balance", started, &result);
        result
    }

    async fn products(&self) -> Result<Vec<BillerProduct>, ProviderError> {
        let started = Instant::now();
        let result = self.inner.products().await;
        self.observe("bill.products", started, &result);
        result
    }

    async fn validate_customer(
        &self,
        product_code: &str,
        customer_no: &str,
    ) -> Result<CustomerInfo, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self
            .inner
            .validate_customer(product_code, customer_no)
            .await;
        self.observe("bill.validate_customer", started, &result);
        result
    }

    async fn purchase(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.purchase(order).await;
        self.observe("bill.purchase", started, &result);
        result
    }

    async fn inquire(&self, order: &BillerOrder) -> Result<BillInquiry, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.inquire(order).await;
        self.observe("bill.inquire", started, &result);
        result
    }

    async fn pay(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError> {
        self.switches.admit(&self.instance)?;
        let started = Instant::now();
        let result = self.inner.pay(order).await;
        self.observe("bill.pay", started, &result);
        result
    }

    async fn status(&self, order: &BillerOrder) -> Result<BillerTransaction, ProviderError> {
        let started = Instant::now();
        let result = self.inner.status(order).await;
        self.observe("bill.status", started, &result);
        result
    }

    async fn settlement(&self, day: Date) -> Result<Vec<SettlementRecord>, ProviderError> {
        let started = Instant::now();
        let result = self.inner.settlement(day).await;
        self.observe("bill.settlement", started, &result);
        result
    }
}
