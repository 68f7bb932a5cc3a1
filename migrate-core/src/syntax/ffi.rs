//! The two functions of libpg_query's C API the check needs. The `pg_query`
//! crate compiles and links libpg_query, but its Rust API drops the error's
//! position, so these are declared here against the same C header
//! (`pg_query.h` of the pinned `pg_query` version).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::{Mutex, MutexGuard};

#[repr(C)]
struct PgQueryError {
    message: *mut c_char,
    funcname: *mut c_char,
    filename: *mut c_char,
    lineno: c_int,
    cursorpos: c_int,
    context: *mut c_char,
}

#[repr(C)]
struct PgQuerySplitResult {
    stmts: *mut *mut c_void,
    n_stmts: c_int,
    stderr_buffer: *mut c_char,
    error: *mut PgQueryError,
}

#[repr(C)]
struct PgQueryPlpgsqlParseResult {
    plpgsql_funcs: *mut c_char,
    error: *mut PgQueryError,
}

extern "C" {
    fn pg_query_split_with_parser(input: *const c_char) -> PgQuerySplitResult;
    fn pg_query_free_split_result(result: PgQuerySplitResult);
    fn pg_query_parse_plpgsql(input: *const c_char) -> PgQueryPlpgsqlParseResult;
    fn pg_query_free_plpgsql_parse_result(result: PgQueryPlpgsqlParseResult);
}

// The declarations above bind symbols of the library this crate links.
use pg_query as _;

/// Each call of libpg_query points the process's stderr at a pipe of its
/// own while it parses, and back after: two calls at once could leave
/// stderr pointing at a closed pipe. One call at a time, process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An error the parser raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParserError {
    pub message: String,
    /// 1-based character position in the input; 0 when the parser gave none.
    pub cursorpos: usize,
    /// The error's context line (for PL/pgSQL, the function and a line).
    pub context: String,
}

/// Runs PostgreSQL's grammar over `sql` (several statements allowed).
/// `sql` holds no NUL byte.
pub fn parse(sql: &CString) -> Result<(), ParserError> {
    let _one = one_at_a_time();
    // SAFETY: the input is a valid C string; the result is freed once, after
    // its error was copied out.
    unsafe {
        let result = pg_query_split_with_parser(sql.as_ptr());
        let error = read(result.error);
        pg_query_free_split_result(result);
        error.map_or(Ok(()), Err)
    }
}

/// Parses `sql` and compiles the body of each `LANGUAGE plpgsql` function,
/// procedure and `DO` block in it, as the server's validator does.
pub fn parse_plpgsql(sql: &CString) -> Result<(), ParserError> {
    let _one = one_at_a_time();
    // SAFETY: as in `parse`.
    let error = unsafe {
        let result = pg_query_parse_plpgsql(sql.as_ptr());
        // libpg_query reports whatever reached stderr while it parsed
        // (another thread's output, in a multi-threaded process) as an error
        // with an empty source file name: not the parser's.
        let stderr_only = !result.error.is_null()
            && !(*result.error).filename.is_null()
            && CStr::from_ptr((*result.error).filename).to_bytes().is_empty();
        let error = if stderr_only { None } else { read(result.error) };
        pg_query_free_plpgsql_parse_result(result);
        error
    };
    error.map_or(Ok(()), Err)
}

/// # Safety
/// `error` is null or points to a live `PgQueryError`.
unsafe fn read(error: *const PgQueryError) -> Option<ParserError> {
    let error = error.as_ref()?;
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    Some(ParserError {
        message: text(error.message),
        cursorpos: usize::try_from(error.cursorpos).unwrap_or(0),
        context: text(error.context),
    })
}
