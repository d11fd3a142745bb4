//! `verify`: proves, before real traffic, that the client and the engine see the same storage.
//!
//! Three legs, each with its own typed error:
//! 1. the client writes a small probe Parquet file through the Backend
//!    ([`ClientStaging`](crate::ClientStaging) if it cannot);
//! 2. the engine reads it back at the address it would use for staged writes
//!    ([`DriverRead`](crate::DriverRead) if it cannot);
//! 3. the engine found the very file the client wrote: same rows, same probe id
//!    ([`UriMismatch`](crate::UriMismatch) if its storage has nothing there, or something else —
//!    a wrong endpoint, bucket, prefix or account).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{AsArray as _, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use futures::TryStreamExt;
use lakeorm_core::{
    BoxError, ClientStaging, DriverRead, Error, IngestId, Location, Result, StagingOp, UriMismatch,
};
use object_store::{ObjectStoreExt as _, PutPayload};
use parquet::arrow::ArrowWriter;

use crate::client::Client;

const PROBE_ROWS: i64 = 3;

/// What a successful [`verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The probe as the client wrote it.
    pub client_uri: Location,
    /// The probe as the engine read it.
    pub driver_uri: Location,
    /// Rows the engine read back.
    pub rows: u64,
    /// Time for the whole round trip.
    pub elapsed: Duration,
}

/// Writes a probe through the Backend, reads it through the Driver, compares, and removes it.
pub async fn verify(client: &Client) -> Result<VerifyReport> {
    let started = Instant::now();
    let backend = client.backend();
    let probe_id = IngestId::new();
    let prefix = backend.staging_location(&probe_id);
    let client_uri = prefix.join("probe.parquet");
    let outcome = round_trip(client, &probe_id, &client_uri).await;
    // The probe goes whatever happened; the janitor would catch it otherwise.
    let removed = backend.delete_prefix(&prefix).await;
    let (driver_uri, rows) = outcome?;
    if let Err(e) = removed {
        return Err(staging_error(
            client,
            &prefix,
            StagingOp::Cleanup,
            Box::new(e),
        ));
    }
    Ok(VerifyReport {
        client_uri,
        driver_uri,
        rows,
        elapsed: started.elapsed(),
    })
}

impl Client {
    /// [`verify`] this client.
    pub async fn verify(&self) -> Result<VerifyReport> {
        verify(self).await
    }
}

fn staging_error(client: &Client, uri: &Location, op: StagingOp, source: BoxError) -> Error {
    Error::ClientStaging(ClientStaging {
        uri: uri.to_string(),
        backend: client.backend().name().to_owned(),
        op,
        source,
    })
}

fn probe_batch(probe_id: &IngestId) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("probe", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let id = probe_id.to_string();
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![id.as_str(); PROBE_ROWS as usize])),
            Arc::new(Int64Array::from_iter_values(0..PROBE_ROWS)),
        ],
    )?)
}

async fn round_trip(
    client: &Client,
    probe_id: &IngestId,
    client_uri: &Location,
) -> Result<(Location, u64)> {
    let backend = client.backend();
    let driver = client.driver();

    // Leg 1: the client writes.
    let batch = probe_batch(probe_id)?;
    let mut bytes = Vec::new();
    let encoded = ArrowWriter::try_new(&mut bytes, batch.schema(), None)
        .and_then(|mut w| w.write(&batch).and_then(|()| w.close()));
    if let Err(e) = encoded {
        return Err(staging_error(
            client,
            client_uri,
            StagingOp::ProbeWrite,
            Box::new(e),
        ));
    }
    backend
        .object_store()
        .put(&backend.store_path(client_uri), PutPayload::from(bytes))
        .await
        .map_err(|e| staging_error(client, client_uri, StagingOp::ProbeWrite, Box::new(e)))?;

    // Leg 2: the engine reads, at its own address for the object.
    let driver_uri = backend.engine_location(client_uri, driver.flavor())?;
    let read_error = |source: BoxError| {
        Error::DriverRead(DriverRead {
            staging_uri: driver_uri.to_string(),
            driver: driver.name().to_owned(),
            source,
        })
    };
    let found = match driver
        .read_parquet(&driver_uri, client.exec_context())
        .await
    {
        Ok(found) => found,
        Err(e @ Error::DriverRead(_)) => return Err(e),
        Err(e) => return Err(read_error(Box::new(e))),
    };
    let Some(result) = found else {
        return Err(Error::UriMismatch(UriMismatch {
            client_uri: client_uri.to_string(),
            driver_uri: driver_uri.to_string(),
            detail:
                "the engine's storage holds nothing at this address: the client and the engine \
                     are configured with different storage (endpoint, bucket, prefix or account)"
                    .into(),
        }));
    };
    let batches: Vec<RecordBatch> = result.batches.try_collect().await.map_err(|e| match e {
        e @ Error::DriverRead(_) => e,
        e => read_error(Box::new(e)),
    })?;

    // Leg 3: the engine saw the client's file.
    let mut ids = Vec::new();
    for batch in &batches {
        // Engines may hand strings back as views or dictionaries; compare them as text.
        let probes = batch
            .column_by_name("probe")
            .and_then(|c| arrow::compute::cast(c, &DataType::Utf8).ok());
        let Some(probes) = probes else {
            return Err(mismatch(
                client_uri,
                &driver_uri,
                "the object the engine read is not the probe",
            ));
        };
        let probes = probes.as_string::<i32>();
        ids.extend(probes.iter().map(|p| p.map(str::to_owned)));
    }
    let expected = probe_id.to_string();
    if ids.len() != PROBE_ROWS as usize || ids.iter().any(|id| id.as_deref() != Some(&expected)) {
        return Err(mismatch(
            client_uri,
            &driver_uri,
            &format!(
                "the engine read {} row(s) of another object than the {PROBE_ROWS}-row probe {expected}",
                ids.len()
            ),
        ));
    }
    Ok((driver_uri, ids.len() as u64))
}

fn mismatch(client_uri: &Location, driver_uri: &Location, detail: &str) -> Error {
    Error::UriMismatch(UriMismatch {
        client_uri: client_uri.to_string(),
        driver_uri: driver_uri.to_string(),
        detail: detail.to_owned(),
    })
}
