//! The documented flows over real HTTP against a started server.

use std::time::{Duration, Instant};

use lakeorm_databricks_server::{DatabricksServer, ServerConfig, fixture};
use serde_json::{Value, json};

struct Harness {
    server: DatabricksServer,
    http: reqwest::Client,
    token: String,
    _dir: tempfile::TempDir,
}

async fn start(config: ServerConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let server = DatabricksServer::start(config.with_dir(dir.path()))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let token = token(&http, &server).await;
    Harness {
        server,
        http,
        token,
        _dir: dir,
    }
}

async fn token(http: &reqwest::Client, server: &DatabricksServer) -> String {
    let response = http
        .post(format!("{}/oidc/v1/token", server.host()))
        .basic_auth("lakeorm-client", Some("lakeorm-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=all-apis")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.host())
    }

    /// An authenticated request without a body.
    async fn send(&self, method: reqwest::Method, url: &str) -> reqwest::Response {
        self.http
            .request(method, url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn submit(&self, body: Value) -> Value {
        let mut body = body;
        body["warehouse_id"] = json!(self.server.warehouse_id());
        let (status, response) = self.post("/api/2.0/sql/statements", &body).await;
        assert_eq!(status, 200, "{response}");
        response
    }

    /// Submits and polls until the statement is terminal.
    async fn run_with(&self, body: Value) -> Value {
        let mut response = self.submit(body).await;
        let id = response["statement_id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        while matches!(
            response["status"]["state"].as_str(),
            Some("PENDING" | "RUNNING")
        ) {
            assert!(Instant::now() < deadline, "statement {id} never finished");
            tokio::time::sleep(Duration::from_millis(50)).await;
            response = self.get(&format!("/api/2.0/sql/statements/{id}")).await.1;
        }
        response
    }

    async fn run(&self, sql: &str, parameters: Value) -> Value {
        self.run_with(json!({ "statement": sql, "parameters": parameters }))
            .await
    }

    /// Runs and expects success.
    async fn ok(&self, sql: &str, parameters: Value) -> Value {
        let r = self.run(sql, parameters).await;
        assert_eq!(r["status"]["state"], "SUCCEEDED", "{sql}: {r}");
        r
    }

    async fn rows(&self, sql: &str, parameters: Value) -> Vec<Vec<Value>> {
        let r = self.ok(sql, parameters).await;
        r["result"]["data_array"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| row.as_array().unwrap().clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn param(name: &str, value: &str, ty: &str) -> Value {
    json!({ "name": name, "value": value, "type": ty })
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS `main`.`default`.`users` (`id` BIGINT NOT NULL, `name` STRING, `_ingest_id` STRING) USING delta";

async fn users(h: &Harness) {
    h.ok(CREATE, json!([])).await;
    let r = h
        .ok(
            "INSERT INTO `main`.`default`.`users` (`id`, `name`, `_ingest_id`) SELECT `id`, `name`, `_ingest_id` FROM (SELECT * FROM (VALUES (:p1, :p2, :p3), (:p4, :p5, :p3)) AS v(`id`, `name`, `_ingest_id`))",
            json!([
                param("p1", "1", "BIGINT"),
                param("p2", "ada", "STRING"),
                param("p3", "ingest-1", "STRING"),
                param("p4", "2", "BIGINT"),
                param("p5", "grace", "STRING"),
            ]),
        )
        .await;
    assert_eq!(
        r["manifest"]["schema"]["columns"][0]["name"],
        "num_affected_rows"
    );
    assert_eq!(r["result"]["data_array"], json!([["2", "2"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_granted_refused_and_expire() {
    let h = start(ServerConfig::default().with_personal_token("dapi-test")).await;
    let form = |body: &'static str, secret: &'static str| {
        h.http
            .post(h.url("/oidc/v1/token"))
            .basic_auth("lakeorm-client", Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = form(
        "grant_type=client_credentials&scope=all-apis",
        "lakeorm-secret",
    )
    .await
    .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "all-apis");
    assert_eq!(body["expires_in"], 3600);
    let r = form("grant_type=client_credentials&scope=all-apis", "wrong")
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = form("grant_type=password&scope=all-apis", "lakeorm-secret")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = form(
        "grant_type=client_credentials&scope=admin",
        "lakeorm-secret",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");

    let r = h
        .http
        .get(h.url("/api/2.0/sql/statements/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error_code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(h.get("/api/2.0/sql/statements/x").await.0, 404);
    let r = h
        .http
        .get(h.url("/api/2.0/sql/statements/x"))
        .bearer_auth("dapi-test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the PAT is accepted");
    h.server.faults().expire_tokens();
    assert_eq!(h.get("/api/2.0/sql/statements/x").await.0, 401);
    let fresh = token(&h.http, &h.server).await;
    let r = h
        .http
        .get(h.url("/api/2.0/sql/statements/x"))
        .bearer_auth(fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let counters = h.server.counters();
    assert_eq!(counters.token_requests, 6);
    assert_eq!(counters.tokens_issued, 3);

    let short =
        start(ServerConfig::default().with_token_lifetime(Duration::from_millis(300))).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(short.get("/api/2.0/sql/statements/x").await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_json_results_come_in_chunks() {
    let h = start(ServerConfig::default().with_chunk_rows(2)).await;
    users(&h).await;
    h.ok(
        "INSERT INTO users (`id`, `name`, `_ingest_id`) SELECT * FROM (VALUES (:a, NULL, 'x')) AS v(`id`, `name`, `_ingest_id`)",
        json!([param("a", "3", "BIGINT")]),
    )
    .await;
    let r = h
        .ok("SELECT `id`, `name` FROM users ORDER BY `id`", json!([]))
        .await;
    let m = &r["manifest"];
    assert_eq!(m["format"], "JSON_ARRAY");
    assert_eq!(m["total_row_count"], 3);
    assert_eq!(m["total_chunk_count"], 2);
    assert_eq!(m["truncated"], false);
    assert_eq!(m["schema"]["column_count"], 2);
    assert_eq!(
        m["schema"]["columns"][0],
        json!({"name": "id", "position": 0, "type_name": "LONG", "type_text": "bigint"})
    );
    assert_eq!(
        r["result"]["data_array"],
        json!([["1", "ada"], ["2", "grace"]])
    );
    assert_eq!(r["result"]["next_chunk_index"], 1);
    let next = r["result"]["next_chunk_internal_link"].as_str().unwrap();
    let (status, chunk) = h.get(next).await;
    assert_eq!(status, 200);
    assert_eq!(chunk["chunk_index"], 1);
    assert_eq!(chunk["row_offset"], 2);
    assert_eq!(chunk["data_array"], json!([["3", null]]));
    assert!(chunk.get("next_chunk_index").is_none());

    let r = h
        .run_with(json!({ "statement": "SELECT `id` FROM users", "row_limit": 1 }))
        .await;
    assert_eq!(r["manifest"]["truncated"], true);
    assert_eq!(r["manifest"]["total_row_count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_links_serve_arrow_streams_and_behave_like_presigned_urls() {
    let h = start(ServerConfig::default().with_chunk_rows(4)).await;
    h.ok(CREATE, json!([])).await;
    let values: Vec<String> = (0..10).map(|i| format!("({i}, 'n{i}', 'i')")).collect();
    h.ok(
        &format!(
            "INSERT INTO users SELECT * FROM (VALUES {}) AS v(`id`, `name`, `_ingest_id`)",
            values.join(", ")
        ),
        json!([]),
    )
    .await;
    let r = h
        .run_with(json!({
            "statement": "SELECT `id`, `name` FROM users ORDER BY `id`",
            "disposition": "EXTERNAL_LINKS",
            "format": "ARROW_STREAM",
        }))
        .await;
    assert_eq!(r["status"]["state"], "SUCCEEDED", "{r}");
    assert_eq!(r["manifest"]["format"], "ARROW_STREAM");
    assert_eq!(r["manifest"]["total_chunk_count"], 3);
    let id = r["statement_id"].as_str().unwrap().to_owned();
    let mut link = r["result"]["external_links"][0].clone();
    assert!(link["expiration"].as_str().unwrap().ends_with('Z'));
    let mut ids = Vec::new();
    loop {
        let bytes = h
            .http
            .get(link["external_link"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(bytes.len() as u64, link["byte_count"].as_u64().unwrap());
        let reader =
            arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let mut rows = 0;
        for batch in reader {
            let batch = batch.unwrap();
            assert_eq!(
                batch.schema().field(1).data_type(),
                &arrow::datatypes::DataType::Utf8
            );
            let column = batch
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap();
            ids.extend(column.values().iter().copied());
            rows += batch.num_rows();
        }
        assert_eq!(rows as u64, link["row_count"].as_u64().unwrap());
        let Some(next) = link["next_chunk_internal_link"].as_str() else {
            break;
        };
        let (status, chunk) = h.get(next).await;
        assert_eq!(status, 200, "{chunk}");
        link = chunk["external_links"][0].clone();
    }
    assert_eq!(ids, (0..10).collect::<Vec<i64>>());

    // A presigned link is its own credential, and it expires.
    let (_, chunk) = h
        .get(&format!("/api/2.0/sql/statements/{id}/result/chunks/1"))
        .await;
    let url = chunk["external_links"][0]["external_link"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h.send(reqwest::Method::GET, &url).await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Only one auth mechanism allowed")
    );
    let r = h
        .http
        .get(url.replace("X-Signature=", "X-Signature=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    h.server.faults().expire_links();
    let r = h.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("Request has expired"));
    let (_, chunk) = h
        .get(&format!("/api/2.0/sql/statements/{id}/result/chunks/1"))
        .await;
    let fresh = chunk["external_links"][0]["external_link"]
        .as_str()
        .unwrap();
    assert_eq!(h.http.get(fresh).send().await.unwrap().status(), 200);
    let c = h.server.counters();
    assert_eq!(c.links_rejected_for_auth_header, 1);
    assert_eq!(c.links_expired, 1);
    assert_eq!(c.link_fetches, 4);

    let short = start(ServerConfig::default().with_link_lifetime(Duration::from_millis(200))).await;
    let r = short
        .run_with(json!({ "statement": "SELECT 1 AS x", "disposition": "EXTERNAL_LINKS", "format": "ARROW_STREAM" }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = r["result"]["external_links"][0]["external_link"]
        .as_str()
        .unwrap();
    assert_eq!(short.http.get(url).send().await.unwrap().status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_are_canceled_closed_delayed_and_failed_on_demand() {
    let h = start(ServerConfig::default()).await;
    users(&h).await;
    h.server.faults().statement_delay(Duration::from_secs(3));
    let r = h
        .submit(json!({
            "statement": "DELETE FROM users",
            "wait_timeout": "0s",
        }))
        .await;
    assert!(
        matches!(r["status"]["state"].as_str(), Some("PENDING" | "RUNNING")),
        "{r}"
    );
    let id = r["statement_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.get(&format!("/api/2.0/sql/statements/{id}")).await.1["status"]["state"],
        "RUNNING"
    );
    let (status, body) = h
        .post(&format!("/api/2.0/sql/statements/{id}/cancel"), &json!({}))
        .await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(
        h.get(&format!("/api/2.0/sql/statements/{id}")).await.1["status"]["state"],
        "CANCELED"
    );
    // on_wait_timeout=CANCEL: the statement outlives the wait and is canceled.
    h.server.faults().statement_delay(Duration::from_secs(8));
    let r = h
        .submit(json!({ "statement": "DELETE FROM users", "wait_timeout": "5s", "on_wait_timeout": "CANCEL" }))
        .await;
    assert_eq!(r["status"]["state"], "CANCELED");
    h.server.faults().statement_delay(Duration::ZERO);
    assert_eq!(
        h.rows("SELECT count(*) FROM users", json!([])).await,
        vec![vec![json!("2")]]
    );

    // Close frees the result.
    let r = h.ok("SELECT * FROM users", json!([])).await;
    let id = r["statement_id"].as_str().unwrap();
    let r = h
        .http
        .delete(h.url(&format!("/api/2.0/sql/statements/{id}")))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        h.get(&format!("/api/2.0/sql/statements/{id}")).await.1["status"]["state"],
        "CLOSED"
    );
    assert_eq!(
        h.get(&format!("/api/2.0/sql/statements/{id}/result/chunks/0"))
            .await
            .0,
        404
    );

    // A starting warehouse keeps statements PENDING.
    h.server
        .faults()
        .warehouse_starting(Duration::from_millis(800));
    let r = h
        .submit(json!({ "statement": "SELECT 1", "wait_timeout": "0s" }))
        .await;
    assert_eq!(r["status"]["state"], "PENDING");
    let id = r["statement_id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.get(&format!("/api/2.0/sql/statements/{id}")).await.1["status"]["state"],
        "PENDING"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        h.get(&format!("/api/2.0/sql/statements/{id}")).await.1["status"]["state"],
        "SUCCEEDED"
    );

    h.server
        .faults()
        .fail_next("TEMPORARILY_UNAVAILABLE", "the warehouse is overloaded");
    let r = h.run("DELETE FROM users", json!([])).await;
    assert_eq!(r["status"]["state"], "FAILED");
    assert_eq!(
        r["status"]["error"]["error_code"],
        "TEMPORARILY_UNAVAILABLE"
    );
    assert_eq!(
        h.rows("SELECT count(*) FROM users", json!([])).await,
        vec![vec![json!("2")]]
    );
    let c = h.server.counters();
    assert_eq!(c.cancels, 2);
    assert_eq!(c.closes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_validated_as_documented() {
    let h = start(ServerConfig::default()).await;
    let many: Vec<Value> = (0..257)
        .map(|i| param(&format!("p{i}"), "1", "INT"))
        .collect();
    let (status, body) = h
        .post("/api/2.0/sql/statements", &json!({ "statement": "SELECT 1", "warehouse_id": "lakeorm-warehouse", "parameters": many }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_code"], "BAD_REQUEST");
    let bad = [
        json!({ "statement": "SELECT 1", "warehouse_id": "lakeorm-warehouse", "format": "ARROW_STREAM" }),
        json!({ "statement": "SELECT 1", "warehouse_id": "lakeorm-warehouse", "wait_timeout": "3s" }),
        json!({ "statement": "SELECT 1", "warehouse_id": "lakeorm-warehouse", "wait_timeout": "51s" }),
        json!({ "statement": "SELECT 1", "warehouse_id": "lakeorm-warehouse", "on_wait_timeout": "WAIT" }),
        json!({ "warehouse_id": "lakeorm-warehouse" }),
    ];
    for body in bad {
        assert_eq!(
            h.post("/api/2.0/sql/statements", &body).await.0,
            400,
            "{body}"
        );
    }
    let (status, body) = h
        .post(
            "/api/2.0/sql/statements",
            &json!({ "statement": "SELECT 1", "warehouse_id": "nope" }),
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let (status, body) = h
        .get("/api/2.0/sql/statements/01f00000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("NOT_FOUND"))
    );

    // Parameters are typed.
    let r = h
        .ok(
            "SELECT :i AS i, :d AS d, :t AS t, :n AS n, :b AS b, :day AS day, :s AS s",
            json!([
                param("i", "7", "INT"),
                param("d", "12.5", "DECIMAL(10,2)"),
                param("t", "2026-01-02T03:04:05Z", "TIMESTAMP"),
                { "name": "n", "type": "DOUBLE" },
                param("b", "true", "BOOLEAN"),
                param("day", "2026-02-03", "DATE"),
                param("s", "it's", "STRING"),
            ]),
        )
        .await;
    let types: Vec<&str> = r["manifest"]["schema"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type_text"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "int",
            "decimal(10,2)",
            "timestamp",
            "double",
            "boolean",
            "date",
            "string"
        ]
    );
    assert_eq!(
        r["result"]["data_array"],
        json!([[
            "7",
            "12.50",
            "2026-01-02T03:04:05.000Z",
            null,
            "true",
            "2026-02-03",
            "it's"
        ]])
    );
    let r = h.run("SELECT :x", json!([param("x", "abc", "INT")])).await;
    assert_eq!(r["status"]["state"], "FAILED");
    assert_eq!(r["status"]["sql_state"], "22018");
    let r = h.run("SELECT :missing", json!([])).await;
    assert!(
        r["status"]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("[UNBOUND_SQL_PARAMETER]")
    );
    let r = h.run("FROBNICATE the warehouse", json!([])).await;
    assert_eq!(r["status"]["state"], "FAILED");
    assert_eq!(r["status"]["error"]["error_code"], "BAD_REQUEST");
    assert!(
        r["status"]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("[PARSE_SYNTAX_ERROR]"),
        "{r}"
    );
    let r = h.run("SELECT * FROM missing", json!([])).await;
    assert!(
        r["status"]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("[TABLE_OR_VIEW_NOT_FOUND]"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_api_on_the_volume() {
    let h = start(ServerConfig::default()).await;
    let file = h.url("/api/2.0/fs/files/Volumes/main/default/lakeorm/dir/a.bin");
    let put =
        |url: String, body: &'static str| h.http.put(url).bearer_auth(&h.token).body(body).send();
    assert_eq!(
        put(file.clone(), "hello world").await.unwrap().status(),
        204
    );
    assert_eq!(
        put(format!("{file}?overwrite=false"), "x")
            .await
            .unwrap()
            .status(),
        409
    );
    assert_eq!(
        put(format!("{file}?overwrite=true"), "hello there")
            .await
            .unwrap()
            .status(),
        204
    );
    let r = h.send(reqwest::Method::GET, &file).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello there");
    let r = h
        .http
        .get(&file)
        .bearer_auth(&h.token)
        .header("Range", "bytes=6-8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 6-8/11");
    assert_eq!(r.text().await.unwrap(), "the");
    let r = h.send(reqwest::Method::HEAD, &file).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "11");
    assert!(r.headers().contains_key("last-modified"));
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    put(
        h.url("/api/2.0/fs/files/Volumes/main/default/lakeorm/dir/b.bin"),
        "b",
    )
    .await
    .unwrap();
    put(
        h.url("/api/2.0/fs/files/Volumes/main/default/lakeorm/dir/sub/c.bin"),
        "c",
    )
    .await
    .unwrap();

    let (status, page) = h
        .get("/api/2.0/fs/directories/Volumes/main/default/lakeorm/dir?page_size=2")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        page["contents"][0]["path"],
        "/Volumes/main/default/lakeorm/dir/a.bin"
    );
    assert_eq!(page["contents"][0]["file_size"], 11);
    assert_eq!(page["contents"][0]["is_directory"], false);
    assert!(page["contents"][0]["last_modified"].as_i64().unwrap() > 1_600_000_000_000);
    let token = page["next_page_token"].as_str().unwrap();
    let (_, page) = h
        .get(&format!("/api/2.0/fs/directories/Volumes/main/default/lakeorm/dir?page_size=2&page_token={token}"))
        .await;
    assert_eq!(
        page["contents"],
        json!([{ "path": "/Volumes/main/default/lakeorm/dir/sub/", "is_directory": true, "name": "sub" }])
    );
    assert!(page.get("next_page_token").is_none());

    let dir = h.url("/api/2.0/fs/directories/Volumes/main/default/lakeorm/dir/sub");
    assert_eq!(h.send(reqwest::Method::HEAD, &dir).await.status(), 200);
    assert_eq!(h.send(reqwest::Method::DELETE, &dir).await.status(), 409);
    let c = h.url("/api/2.0/fs/files/Volumes/main/default/lakeorm/dir/sub/c.bin");
    assert_eq!(h.send(reqwest::Method::DELETE, &c).await.status(), 204);
    let r = h.send(reqwest::Method::DELETE, &c).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error_code"], "NOT_FOUND");
    assert_eq!(h.send(reqwest::Method::DELETE, &dir).await.status(), 204);
    assert_eq!(h.send(reqwest::Method::HEAD, &dir).await.status(), 404);
    let made = h.url("/api/2.0/fs/directories/Volumes/main/default/lakeorm/x/y");
    assert_eq!(h.send(reqwest::Method::PUT, &made).await.status(), 204);
    let other = h.url("/api/2.0/fs/files/Volumes/main/default/other/a.bin");
    assert_eq!(put(other, "x").await.unwrap().status(), 404);
    assert_eq!(
        h.get("/api/2.0/fs/directories/Volumes/main/default/lakeorm/none")
            .await
            .0,
        404
    );
    assert_eq!(h.server.counters().files_put, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lakeorm_statements_run_on_delta_tables() {
    let h = start(ServerConfig::default()).await;
    users(&h).await; // version 1
    // An upsert: one key updated, one inserted.
    let r = h
        .ok(
            "MERGE INTO `main`.`default`.`users` AS target USING (SELECT * FROM (VALUES (:a, :b, :c), (:d, :e, :c)) AS v(`id`, `name`, `_ingest_id`) WHERE `_ingest_id` = 'ingest-2') AS source ON target.`id` = source.`id` WHEN MATCHED THEN UPDATE SET target.`name` = source.`name`, target.`_ingest_id` = source.`_ingest_id` WHEN NOT MATCHED THEN INSERT (`id`, `name`, `_ingest_id`) VALUES (source.`id`, source.`name`, source.`_ingest_id`)",
            json!([
                param("a", "2", "BIGINT"),
                param("b", "grace h", "STRING"),
                param("c", "ingest-2", "STRING"),
                param("d", "3", "BIGINT"),
                param("e", "edsger", "STRING"),
            ]),
        )
        .await;
    assert_eq!(r["manifest"]["schema"]["column_count"], 4);
    assert_eq!(r["result"]["data_array"], json!([["2", "1", "0", "1"]])); // version 2
    assert_eq!(
        h.rows("SELECT `id`, `name` FROM users ORDER BY `id`", json!([]))
            .await,
        vec![
            vec![json!("1"), json!("ada")],
            vec![json!("2"), json!("grace h")],
            vec![json!("3"), json!("edsger")]
        ]
    );

    // Insert-only, failing when a key exists: nothing is written.
    let insert_only = "MERGE INTO `main`.`default`.`users` AS target USING (SELECT * FROM (VALUES (:a, :b, 'ingest-3')) AS v(`id`, `name`, `_ingest_id`)) AS source ON target.`id` = source.`id` WHEN MATCHED THEN UPDATE SET target.`_ingest_id` = raise_error('lakeorm: a row with the same key already exists in users') WHEN NOT MATCHED THEN INSERT (`id`, `name`, `_ingest_id`) VALUES (source.`id`, source.`name`, source.`_ingest_id`)";
    let r = h
        .run(
            insert_only,
            json!([param("a", "1", "BIGINT"), param("b", "again", "STRING")]),
        )
        .await;
    assert_eq!(r["status"]["state"], "FAILED");
    assert_eq!(r["status"]["sql_state"], "P0001");
    let message = r["status"]["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "[USER_RAISED_EXCEPTION] lakeorm: a row with the same key already exists in users"
        ),
        "{message}"
    );
    assert_eq!(
        h.rows("SELECT count(*) FROM users", json!([])).await,
        vec![vec![json!("3")]]
    );
    let r = h
        .ok(
            insert_only,
            json!([param("a", "4", "BIGINT"), param("b", "barbara", "STRING")]),
        )
        .await; // version 3
    assert_eq!(r["result"]["data_array"], json!([["1", "0", "0", "1"]]));

    // Delete with a parameter.
    let r = h
        .ok(
            "DELETE FROM `main`.`default`.`users` WHERE `id` = :id",
            json!([param("id", "1", "BIGINT")]),
        )
        .await; // v4
    assert_eq!(r["result"]["data_array"], json!([["1"]]));
    let r = h
        .ok(
            "UPDATE users SET `name` = upper(`name`) WHERE `id` > :id",
            json!([param("id", "3", "BIGINT")]),
        )
        .await; // v5
    assert_eq!(r["result"]["data_array"], json!([["1"]]));

    // Time travel and UNION ALL.
    assert_eq!(
        h.rows("SELECT count(*) FROM users VERSION AS OF 1", json!([]))
            .await,
        vec![vec![json!("2")]]
    );
    assert_eq!(
        h.rows(
            "SELECT count(*) FROM `main`.`default`.`users` VERSION AS OF :v",
            json!([param("v", "3", "BIGINT")])
        )
        .await,
        vec![vec![json!("4")]]
    );
    assert_eq!(
        h.rows("SELECT `id` FROM users WHERE `id` = 2 UNION ALL SELECT `id` FROM users WHERE `id` = 4 ORDER BY `id`", json!([])).await,
        vec![vec![json!("2")], vec![json!("4")]]
    );

    // DESCRIBE DETAIL and HISTORY.
    let r = h
        .ok("DESCRIBE DETAIL `main`.`default`.`users`", json!([]))
        .await;
    let names: Vec<&str> = r["manifest"]["schema"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for column in [
        "format",
        "id",
        "name",
        "description",
        "location",
        "createdAt",
        "lastModified",
        "partitionColumns",
        "numFiles",
        "sizeInBytes",
        "properties",
        "minReaderVersion",
        "minWriterVersion",
    ] {
        assert!(names.contains(&column), "{column} in {names:?}");
    }
    let row = &r["result"]["data_array"][0];
    assert_eq!(row[0], "delta");
    assert_eq!(row[2], "main.default.users");
    let history = h.rows("DESCRIBE HISTORY users LIMIT 2", json!([])).await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0][0], "5");
    assert_eq!(history[1][0], "4");
    assert_eq!(history[0][3], "UPDATE");
    assert_eq!(history[1][3], "DELETE");

    // Staged Parquet in the volume, read with read_files and appended.
    let batch = arrow::array::RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("id", arrow::datatypes::DataType::Int64, false),
            arrow::datatypes::Field::new("name", arrow::datatypes::DataType::Utf8, true),
            arrow::datatypes::Field::new("_ingest_id", arrow::datatypes::DataType::Utf8, true),
        ])),
        vec![
            std::sync::Arc::new(arrow::array::Int64Array::from(vec![10, 11])),
            std::sync::Arc::new(arrow::array::StringArray::from(vec!["x", "y"])),
            std::sync::Arc::new(arrow::array::StringArray::from(vec!["stage-1", "stage-1"])),
        ],
    )
    .unwrap();
    let mut parquet = Vec::new();
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(&mut parquet, batch.schema(), None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let r = h
        .http
        .put(
            h.url("/api/2.0/fs/files/Volumes/main/default/lakeorm/_staging/stage-1/part-0.parquet"),
        )
        .bearer_auth(&h.token)
        .body(parquet)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = h
        .ok(
            "INSERT INTO `main`.`default`.`users` (`id`, `name`, `_ingest_id`) SELECT `id`, `name`, `_ingest_id` FROM (SELECT * FROM read_files('/Volumes/main/default/lakeorm/_staging/stage-1', format => 'parquet') WHERE `_ingest_id` = 'stage-1')",
            json!([]),
        )
        .await;
    assert_eq!(r["result"]["data_array"], json!([["2", "2"]]));
    assert_eq!(
        h.rows("SELECT count(*) FROM read_files('/Volumes/main/default/lakeorm/_staging/stage-1/part-0.parquet', format => 'parquet')", json!([])).await,
        vec![vec![json!("2")]]
    );
    assert_eq!(
        h.rows("SELECT count(*) FROM users", json!([])).await,
        vec![vec![json!("5")]]
    );

    // Maintenance.
    h.ok("OPTIMIZE `main`.`default`.`users`", json!([])).await;
    let r = h
        .ok("OPTIMIZE users ZORDER BY (`name`, id)", json!([]))
        .await;
    assert_eq!(r["status"]["state"], "SUCCEEDED");
    assert_eq!(
        h.rows("SELECT count(*) FROM users", json!([])).await,
        vec![vec![json!("5")]]
    );
    for refused in [
        "OPTIMIZE users ZORDER (name)",
        "OPTIMIZE users WHERE id = 1",
    ] {
        let r = h.run(refused, json!([])).await;
        assert_eq!(r["status"]["state"], "FAILED", "{refused}");
    }
    let r = h.run("VACUUM users RETAIN 0 HOURS", json!([])).await;
    assert_eq!(r["status"]["state"], "FAILED");
    h.ok("VACUUM users RETAIN 168 HOURS", json!([])).await;
    let r = h.ok("DROP TABLE IF EXISTS users", json!([])).await;
    assert_eq!(r["manifest"]["schema"]["column_count"], 0);
    assert_eq!(r["manifest"]["total_chunk_count"], 0);
    let r = h.run("SELECT * FROM users", json!([])).await;
    assert_eq!(r["status"]["state"], "FAILED");
}

#[test]
fn fixtures_are_json_with_the_documented_fields() {
    for (name, text) in lakeorm_databricks_server::FIXTURES {
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(value.is_object(), "{name}");
    }
    let ok: Value = serde_json::from_str(fixture("statement_succeeded_external_links")).unwrap();
    assert_eq!(ok["result"]["external_links"][0]["next_chunk_index"], 1);
    let failed: Value = serde_json::from_str(fixture("statement_failed")).unwrap();
    assert_eq!(failed["status"]["sql_state"], "42P01");
}
