//! The camera backend of a build without the `camera` feature: every call
//! says so ([`CaptureError::CameraUnsupported`]), and no camera can exist.

use std::convert::Infallible;
use std::sync::Arc;

use super::{CameraDevice, CameraMode, CameraRequest, CameraSelector};
use crate::{CaptureError, Clock, Frame, SourceFormat};

pub(super) fn list_devices() -> Result<Vec<CameraDevice>, CaptureError> {
    Err(CaptureError::CameraUnsupported)
}

/// Uninhabited: without the feature no camera can be opened.
pub(super) struct Inner(Infallible);

impl Inner {
    pub(super) fn open(
        _: &CameraSelector,
        _: &CameraRequest,
        _: Arc<dyn Clock>,
    ) -> Result<Self, CaptureError> {
        Err(CaptureError::CameraUnsupported)
    }
    pub(super) fn mode(&self) -> CameraMode {
        match self.0 {}
    }
    pub(super) fn name(&self) -> &str {
        match self.0 {}
    }
    pub(super) fn dropped(&self) -> u64 {
        match self.0 {}
    }
    pub(super) fn format(&self) -> SourceFormat {
        match self.0 {}
    }
    pub(super) fn next_frame(&mut self, _: &mut Frame) -> Result<(), CaptureError> {
        match self.0 {}
    }
}
