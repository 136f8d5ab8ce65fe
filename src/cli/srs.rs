//! `tldd srs`: the registry's arguments; `serve` runs `tldd_srs::serve`,
//! every other subcommand is an admin request (`tldd_srs::admin`) whose
//! answer text is printed.
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tldd_srs::admin::AdminRequest;

/// `tldd srs ...` arguments.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct SrsArgs {
    /// SRS configuration file (TOML; see zones/srs.toml and docs/srs.md).
    #[arg(short, long, global = true)]
    pub config: Option<PathBuf>,
    /// (boxed: keeps the top-level command enum small)
    #[command(subcommand)]
    pub command: Option<Box<SrsCommand>>,
}

// parsed once per process: the size difference between variants is irrelevant
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum SrsCommand {
    /// Run the SRS: EPP listener, lifecycle timer, DNS publisher (the default).
    Serve,
    /// Manage registrar accounts.
    #[command(subcommand)]
    Registrar(RegistrarCommand),
    /// Run every time-driven transition due by a time (auto-renew, grace
    /// expiries, redemption -> pending delete, purge, transfer auto-approve)
    /// and publish the DNS changes.
    ///
    /// Without --at: due by now. A time later than the SRS clock moves the
    /// clock forward (persistently), which needs `[srs] clock_control = true`.
    Lifecycle {
        /// RFC 3339 time, e.g. 2030-01-01T00:00:00Z.
        #[arg(long)]
        at: Option<String>,
    },
    /// Compare the zone (AXFR with TSIG) with the SRS and queue repairs.
    Reconcile {
        /// Report differences without repairing them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the billing ledger (charges > 0, credits < 0), oldest first.
    Ledger {
        /// Only this registrar's entries.
        #[arg(long)]
        registrar: Option<String>,
    },
    /// Print the SRS clock and the publisher queue length.
    Status,
    /// The DNS publisher's queue: list it, retry it now, or drop a change
    /// the DNS server refuses for good (`status` names a blocked one).
    #[command(subcommand)]
    Publisher(PublisherCommand),
}

/// `tldd srs publisher ...`.
#[derive(Debug, Subcommand)]
pub enum PublisherCommand {
    /// The oldest queued changes: id, when queued, owner names.
    Queue {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Send the queue now (after fixing why the DNS server refused it).
    Retry,
    /// Remove one queued change, e.g. one the DNS server refuses for good;
    /// run `tldd srs reconcile` once the cause is fixed.
    Drop {
        /// The change's id (from `status` or `publisher queue`).
        #[arg(long)]
        id: u64,
    },
}

#[derive(Debug, Args)]
pub struct RegistrarOpts {
    /// Registrar ID (the EPP clID), 3-16 characters.
    #[arg(long)]
    pub id: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// IANA registrar ID.
    #[arg(long)]
    pub iana_id: Option<u32>,
    /// EPP password, 6-16 characters (stored as an argon2 hash).
    #[arg(long, env = "TLDD_SRS_REGISTRAR_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// SHA-256 fingerprint of an allowed client certificate (hex, colons
    /// allowed); repeat for several. On update: added to the list.
    #[arg(long = "cert-sha256")]
    pub cert_sha256: Vec<String>,
    /// Source network allowed to log in (CIDR); repeat for several; on
    /// update replaces the list. None: any address.
    #[arg(long = "network")]
    pub networks: Vec<String>,
    /// How far the balance may go below zero (minor currency units).
    #[arg(long)]
    pub credit_limit: Option<i64>,
    /// Add funds to the balance (minor currency units; ledger "Payment").
    #[arg(long)]
    pub funds: Option<i64>,
    /// Sessions at once (default `[srs] epp_registrar_connections`).
    #[arg(long)]
    pub max_connections: Option<u32>,
    /// Registrar URL (shown by Whois/RDAP); empty string clears.
    #[arg(long)]
    pub url: Option<String>,
    /// Registrar Whois server; empty string clears.
    #[arg(long)]
    pub whois_server: Option<String>,
    /// Abuse contact e-mail; empty string clears.
    #[arg(long)]
    pub abuse_email: Option<String>,
    /// Abuse contact phone; empty string clears.
    #[arg(long)]
    pub abuse_phone: Option<String>,
    /// Registrar's RDAP base URL (https://..., as in IANA's Registrar IDs
    /// registry; RDAP `related` and `about` links); empty string clears.
    #[arg(long, alias = "rdap-base-url")]
    pub rdap_url: Option<String>,
    /// A street line of the registrar's own address (Whois registrar
    /// answer, RDAP entity); repeat for up to 3; on update replaces the
    /// lines; "" clears.
    #[arg(long = "street")]
    pub street: Vec<String>,
    /// City of the registrar's address; empty string clears.
    #[arg(long)]
    pub city: Option<String>,
    /// State or province; empty string clears.
    #[arg(long)]
    pub state: Option<String>,
    /// Postal code; empty string clears.
    #[arg(long)]
    pub postal_code: Option<String>,
    /// Country, ISO 3166 alpha-2 (e.g. US); empty string clears.
    #[arg(long)]
    pub country: Option<String>,
    /// Registrar phone, EPP form +CC.NUMBER (e.g. +1.5555550100); empty
    /// string clears.
    #[arg(long)]
    pub phone: Option<String>,
    /// Registrar fax, EPP form; empty string clears.
    #[arg(long)]
    pub fax: Option<String>,
    /// Registrar email; empty string clears.
    #[arg(long)]
    pub email: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RegistrarCommand {
    /// Create a registrar (needs --name, --iana-id, --password, --cert-sha256).
    /// Credit is unlimited unless --credit-limit is given.
    Add(RegistrarOpts),
    /// Change a registrar.
    Update {
        #[command(flatten)]
        opts: RegistrarOpts,
        /// Remove an allowed certificate fingerprint.
        #[arg(long = "remove-cert-sha256")]
        remove_cert_sha256: Vec<String>,
        /// Remove the credit limit.
        #[arg(long)]
        unlimited_credit: bool,
    },
    /// List registrars.
    List,
}

fn spec(o: RegistrarOpts, add: bool) -> tldd_srs::registrar::RegistrarSpec {
    tldd_srs::registrar::RegistrarSpec {
        id: o.id,
        name: o.name,
        iana_id: o.iana_id,
        password: o.password,
        cert_sha256: o.cert_sha256,
        remove_cert_sha256: vec![],
        networks: if o.networks.is_empty() && !add {
            None
        } else {
            Some(o.networks)
        },
        credit_limit: o.credit_limit,
        unlimited_credit: false,
        add_funds: o.funds,
        max_connections: o.max_connections,
        url: o.url,
        whois_server: o.whois_server,
        abuse_email: o.abuse_email,
        abuse_phone: o.abuse_phone,
        rdap_url: o.rdap_url,
        street: (!o.street.is_empty()).then_some(o.street),
        city: o.city,
        state: o.state,
        postal_code: o.postal_code,
        country: o.country,
        phone: o.phone,
        fax: o.fax,
        email: o.email,
    }
}

/// Entry point of `tldd srs`.
pub fn run(args: SrsArgs) -> anyhow::Result<()> {
    let path = args
        .config
        .ok_or_else(|| anyhow::anyhow!("-c/--config FILE is required (see zones/srs.toml)"))?;
    let cfg = tldd_srs::config::Loaded::load(&path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let req = match args.command.map(|c| *c).unwrap_or(SrsCommand::Serve) {
        SrsCommand::Serve => return rt.block_on(tldd_srs::serve(cfg)),
        SrsCommand::Registrar(RegistrarCommand::Add(o)) => {
            AdminRequest::RegistrarAdd(spec(o, true))
        }
        SrsCommand::Registrar(RegistrarCommand::Update {
            opts,
            remove_cert_sha256,
            unlimited_credit,
        }) => {
            let mut s = spec(opts, false);
            s.remove_cert_sha256 = remove_cert_sha256;
            s.unlimited_credit = unlimited_credit;
            AdminRequest::RegistrarUpdate(s)
        }
        SrsCommand::Registrar(RegistrarCommand::List) => AdminRequest::RegistrarList,
        SrsCommand::Lifecycle { at } => AdminRequest::Lifecycle {
            at: at
                .map(|a| tldd_srs::clock::parse(&a))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--at: {e}"))?,
        },
        SrsCommand::Reconcile { dry_run } => AdminRequest::Reconcile { dry_run },
        SrsCommand::Ledger { registrar } => AdminRequest::Ledger { registrar },
        SrsCommand::Status => AdminRequest::Status,
        SrsCommand::Publisher(PublisherCommand::Queue { limit }) => {
            AdminRequest::PublisherQueue { limit }
        }
        SrsCommand::Publisher(PublisherCommand::Retry) => AdminRequest::PublisherRetry,
        SrsCommand::Publisher(PublisherCommand::Drop { id }) => AdminRequest::PublisherDrop { id },
    };
    let reply = rt.block_on(tldd_srs::admin::run_request(cfg, req))?;
    if !reply.text.is_empty() {
        println!("{}", reply.text);
    }
    if reply.ok {
        Ok(())
    } else {
        anyhow::bail!("command failed")
    }
}
