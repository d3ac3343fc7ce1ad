//! placeholder, being written
use super::{Facts, Kind, Param, Query};
use crate::transport::ExecOutput;
pub struct Service;
impl Kind for Service {
    fn name(&self) -> &'static str {
        "service"
    }
    fn subject(&self) -> &'static str {
        ""
    }
    fn doc(&self) -> &'static str {
        ""
    }
    fn params(&self) -> &'static [Param] {
        &[]
    }
    fn presence(&self) -> Option<&'static str> {
        None
    }
    fn script(&self, _q: &Query) -> String {
        todo!()
    }
    fn parse(&self, _q: &Query, _o: &ExecOutput) -> Result<Facts, String> {
        todo!()
    }
}
