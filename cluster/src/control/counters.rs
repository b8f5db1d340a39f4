//! The control plane's own metrics counters and the `/metrics` settings,
//! kept in `ControlPlane` and exported by `admin::metrics`.

/// Quota lease traffic, counted as the control plane answers it.
#[derive(Debug, Default)]
pub struct ControlMetrics {
    pub quota_leases_granted: u64,
    pub quota_leases_refused: u64,
    pub quota_leases_unlimited: u64,
    pub quota_returns: u64,
}

/// Settings of the `/metrics` endpoint.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// Expose per-bucket series.
    pub per_bucket: bool,
}
