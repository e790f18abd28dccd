//! `nmfkit._core`: the compiled half of the Python package `nmfkit`.
//!
//! The estimators (`nmfkit.NMF`, `nmfkit.MiniBatchNMF`) are Python classes, because
//! scikit-learn finds an estimator's parameters by reading its `__init__` signature and validates
//! input with its own helpers, whose messages and exception types users already know. They
//! validate, then call the functions here with NumPy arrays (or a sparse matrix's CSR/CSC arrays)
//! and a dict of settings; the fit itself runs in Rust with the GIL released.
//!
//! Every function is generic over f32 and f64 and dispatches on X's dtype: float32 data is
//! factored in float32, as scikit-learn does.

use faer::{Mat, MatRef};
use nmf::NmfError;
use nmf::prelude::*;
use nmf::solvers::{FitWarning, NmfConfig, OnlineNmf, OnlineState};
use numpy::ndarray::Array2;
use numpy::{
    Element, PyArray2, PyArrayDescrMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// The element types the package factors in.
trait Elem: nmf::Float + Element {}
impl Elem for f32 {}
impl Elem for f64 {}

/// X as the library sees it: a dense matrix (borrowed from NumPy when it is Fortran-ordered,
/// copied to column-major otherwise) or a validated sparse matrix.
enum Input<'py, T: Elem> {
    /// Zero-copy view of a Fortran-ordered array; the readonly borrow keeps Rust writers out.
    Borrowed(PyReadonlyArray2<'py, T>),
    Owned(Mat<T>),
    Sparse(SparseMat<T>),
}

impl<T: Elem> Input<'_, T> {
    fn data(&self) -> DataRef<'_, T> {
        match self {
            Input::Borrowed(a) => {
                let (n, m) = (a.shape()[0], a.shape()[1]);
                let s = a.as_slice().expect("checked Fortran-contiguous when built");
                DataRef::Dense(MatRef::from_column_major_slice(s, n, m))
            }
            Input::Owned(x) => DataRef::Dense(x.as_ref()),
            Input::Sparse(x) => DataRef::Sparse(x.as_ref()),
        }
    }
}

/// A 2-D NumPy array as a column-major matrix: borrowed when it already is one, one copy
/// otherwise (C order is a row-major view that faer copies in blocks).
fn dense<'py, T: Elem>(a: PyReadonlyArray2<'py, T>) -> Input<'py, T> {
    let (n, m) = (a.shape()[0], a.shape()[1]);
    if a.is_fortran_contiguous() && a.as_slice().is_ok() {
        return Input::Borrowed(a);
    }
    if a.is_c_contiguous()
        && let Ok(s) = a.as_slice()
    {
        return Input::Owned(nmf::mat::copy(MatRef::from_row_major_slice(s, n, m)));
    }
    let v = a.as_array();
    Input::Owned(nmf::mat::from_fn(n, m, |i, j| v[[i, j]]))
}

/// A factor (W0, H0 or a fitted H) as a column-major matrix.
fn factor<T: Elem>(a: &Bound<'_, PyAny>, what: &str) -> PyResult<Mat<T>> {
    let a: PyReadonlyArray2<'_, T> = a.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a 2-D array of {}",
            std::any::type_name::<T>()
        ))
    })?;
    let (n, m) = (a.shape()[0], a.shape()[1]);
    let v = a.as_array();
    Ok(nmf::mat::from_fn(n, m, |i, j| v[[i, j]]))
}

/// X from Python: a 2-D array, or `(format, n_rows, n_cols, indptr, indices, data)` for a
/// SciPy CSR or CSC matrix (indices int32 or int64).
fn input<'py, T: Elem>(x: &Bound<'py, PyAny>) -> PyResult<Input<'py, T>> {
    if let Ok(t) = x.cast::<PyTuple>() {
        let (format, n, m, indptr, indices, data): (
            String,
            usize,
            usize,
            PyReadonlyArray1<'py, i64>,
            Bound<'py, PyAny>,
            PyReadonlyArray1<'py, T>,
        ) = t.extract()?;
        let indptr: Vec<usize> = indptr
            .as_array()
            .iter()
            .map(|&p| usize::try_from(p).map_err(|_| PyValueError::new_err("negative indptr")))
            .collect::<PyResult<_>>()?;
        let data = data.as_array();
        let data = data
            .as_slice()
            .ok_or_else(|| PyValueError::new_err("data not contiguous"))?;
        let built = if let Ok(ix) = indices.extract::<PyReadonlyArray1<'py, i32>>() {
            let ix = ix.as_array();
            let ix = ix
                .as_slice()
                .ok_or_else(|| PyValueError::new_err("indices not contiguous"))?;
            sparse_from(&format, n, m, &indptr, ix, data)
        } else {
            let ix: PyReadonlyArray1<'py, i64> = indices.extract()?;
            let ix = ix.as_array();
            let ix = ix
                .as_slice()
                .ok_or_else(|| PyValueError::new_err("indices not contiguous"))?;
            sparse_from(&format, n, m, &indptr, ix, data)
        };
        return Ok(Input::Sparse(built.map_err(value_error)?));
    }
    let a: PyReadonlyArray2<'py, T> = x.extract()?;
    Ok(dense(a))
}

fn sparse_from<T: Elem, I: nmf::sparse::SparseIndex>(
    format: &str,
    n: usize,
    m: usize,
    indptr: &[usize],
    indices: &[I],
    data: &[T],
) -> Result<SparseMat<T>, nmf::CoreError> {
    if format == "csc" {
        SparseMat::from_csc(n, m, indptr, indices, data)
    } else {
        SparseMat::from_csr(n, m, indptr, indices, data)
    }
}

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The library's errors as Python's: a file that cannot be read is an `OSError`, everything
/// else (bad values, shapes, settings, overflow) a `ValueError`, as scikit-learn raises them.
fn fit_error(e: NmfError) -> PyErr {
    match e {
        NmfError::Source { .. } => PyOSError::new_err(e.to_string()),
        e => PyValueError::new_err(e.to_string()),
    }
}

fn setting_error(key: &str, e: PyErr) -> PyErr {
    PyTypeError::new_err(format!("setting {key}: {e}"))
}

/// The settings dict the Python side builds from the estimator's parameters.
struct Spec<'py>(Bound<'py, PyDict>);

impl<'py> Spec<'py> {
    fn get<V: for<'a> FromPyObject<'a, 'py>>(&self, key: &str) -> PyResult<V> {
        match self.0.get_item(key)? {
            Some(v) => v
                .extract::<V>()
                .map_err(Into::<PyErr>::into)
                .map_err(|e| setting_error(key, e)),
            None => Err(PyValueError::new_err(format!("missing setting {key}"))),
        }
    }

    fn opt<V: for<'a> FromPyObject<'a, 'py>>(&self, key: &str) -> PyResult<Option<V>> {
        match self.0.get_item(key)? {
            Some(v) if v.is_none() => Ok(None),
            Some(v) => v
                .extract::<V>()
                .map(Some)
                .map_err(Into::<PyErr>::into)
                .map_err(|e| setting_error(key, e)),
            None => Ok(None),
        }
    }

    /// The builder for these settings, with `init` as given.
    fn params<T: Elem>(&self, init: Init<T>) -> PyResult<nmf::NmfParams<T>> {
        let solver: String = self.get("solver")?;
        let solver: SolverKind = solver.parse().map_err(value_error)?;
        let beta: f64 = self.get("beta")?;
        let loss = match beta {
            2.0 => Loss::Frobenius,
            1.0 => Loss::KullbackLeibler,
            0.0 => Loss::ItakuraSaito,
            b => Loss::Beta(b),
        };
        let alpha_h = match self.get::<String>("alpha_h") {
            Ok(s) if s == "same" => AlphaH::Same,
            _ => AlphaH::Value(self.get("alpha_h")?),
        };
        let threads: Option<usize> = self.opt("threads")?;
        let mut p = Nmf::params::<T>(self.get("n_components")?)
            .solver(solver)
            .loss(loss)
            .init(init)
            .tol(self.get("tol")?)
            .max_iter(self.get("max_iter")?)
            .seed(self.get("seed")?)
            .compat(Compat::Sklearn)
            .alpha_w(self.get("alpha_w")?)
            .alpha_h(alpha_h)
            .l1_ratio(self.get("l1_ratio")?)
            .shuffle(self.opt("shuffle")?.unwrap_or(false))
            .par(faer::Par::rayon(threads.unwrap_or(0)));
        if let Some(s) = self.opt::<f64>("h_sparseness")? {
            p = p.h_sparseness(s);
        }
        if let Some(s) = self.opt::<f64>("w_sparseness")? {
            p = p.w_sparseness(s);
        }
        if solver == SolverKind::MiniBatch {
            p = p
                .batch_size(self.get("batch_size")?)
                .forget_factor(self.get("forget_factor")?)
                .fresh_restarts(self.get("fresh_restarts")?)
                .fresh_restarts_max_iter(self.get("fresh_restarts_max_iter")?)
                .transform_max_iter(self.get("transform_max_iter")?)
                .max_no_improvement(self.opt("max_no_improvement")?);
        }
        Ok(p)
    }

    fn init<T: Elem>(
        &self,
        w0: Option<&Bound<'py, PyAny>>,
        h0: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Init<T>> {
        let name: Option<String> = self.opt("init")?;
        Ok(match name.as_deref() {
            None => Init::Auto,
            Some("random") => Init::Random,
            Some("nndsvd") => Init::Nndsvd,
            Some("nndsvda") => Init::NndsvdA,
            Some("nndsvdar") => Init::NndsvdAr,
            Some("custom") => match (w0, h0) {
                (Some(w), Some(h)) => Init::Custom {
                    w: factor(w, "W")?,
                    h: factor(h, "H")?,
                },
                _ => return Err(PyValueError::new_err("init='custom' needs W and H")),
            },
            Some(other) => return Err(PyValueError::new_err(format!("unknown init {other:?}"))),
        })
    }

    fn config<T: Elem>(&self, init: Init<T>) -> PyResult<NmfConfig<T>> {
        self.params(init)?.check().map_err(fit_error)
    }
}

/// A column-major matrix as a C-ordered NumPy array (what scikit-learn returns).
fn to_numpy<'py, T: Elem>(py: Python<'py>, a: MatRef<'_, T>) -> Bound<'py, PyArray2<T>> {
    let arr = Array2::from_shape_fn((a.nrows(), a.ncols()), |(i, j)| a[(i, j)]);
    PyArray2::from_owned_array(py, arr)
}

fn warning_text(w: &FitWarning) -> Option<String> {
    match w {
        // The Python side raises scikit-learn's own ConvergenceWarning from n_iter.
        FitWarning::MaxIterReached { .. } => None,
        FitWarning::DeadComponents { components } => Some(format!(
            "components {components:?} are zero in W or H after the fit (every weight of a \
             component went to 0): regularisation too strong or k too large"
        )),
        other => Some(format!("{other:?}")),
    }
}

/// A finished fit as a dict: `W`, `H`, `n_iter`, `n_steps`, `reconstruction_err`,
/// `stop_reason`, `warnings`.
fn model_dict<'py, T: Elem>(py: Python<'py>, model: &NmfModel<T>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let r = model.report();
    d.set_item("W", to_numpy(py, model.w()))?;
    d.set_item("H", to_numpy(py, model.h()))?;
    d.set_item("n_iter", r.n_iter)?;
    d.set_item("n_steps", r.n_steps)?;
    d.set_item("reconstruction_err", r.reconstruction_err)?;
    d.set_item("stop_reason", r.stop_reason.to_string())?;
    let warnings: Vec<String> = r.warnings.iter().filter_map(warning_text).collect();
    d.set_item("warnings", PyList::new(py, warnings)?)?;
    // A minibatch fit's running statistics: partial_fit continues from them.
    if let Some(s) = model.online_state() {
        d.set_item("A", to_numpy(py, s.a.as_ref()))?;
        d.set_item("B", to_numpy(py, s.b.as_ref()))?;
        d.set_item("rho", s.rho)?;
    }
    Ok(d)
}

fn is_f32(x: &Bound<'_, PyAny>) -> PyResult<bool> {
    let dtype_of = |a: &Bound<'_, PyAny>| -> PyResult<bool> {
        let a = a.cast::<PyUntypedArray>()?;
        let dt = a.dtype();
        if dt.is_equiv_to(&numpy::dtype::<f32>(a.py())) {
            Ok(true)
        } else if dt.is_equiv_to(&numpy::dtype::<f64>(a.py())) {
            Ok(false)
        } else {
            Err(PyTypeError::new_err(format!(
                "X must be float32 or float64, not {dt}"
            )))
        }
    };
    match x.cast::<PyTuple>() {
        Ok(t) => dtype_of(&t.get_item(5)?),
        Err(_) => dtype_of(x),
    }
}

/// Fits X (init and solve in one call): the settings' `init` with `W`/`H` for `custom`.
#[pyfunction]
#[pyo3(signature = (x, w, h, spec))]
fn fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: Option<&Bound<'py, PyAny>>,
    h: Option<&Bound<'py, PyAny>>,
    spec: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    fn go<'py, T: Elem>(
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        w: Option<&Bound<'py, PyAny>>,
        h: Option<&Bound<'py, PyAny>>,
        spec: &Spec<'py>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let x = input::<T>(x)?;
        let config = spec.config::<T>(spec.init(w, h)?)?;
        let data = x.data();
        let model = py.detach(|| config.fit(data)).map_err(fit_error)?;
        model_dict(py, &model)
    }
    let spec = Spec(spec);
    if is_f32(x)? {
        go::<f32>(py, x, w, h, &spec)
    } else {
        go::<f64>(py, x, w, h, &spec)
    }
}

/// W for X with H fixed: the fit's problem solved for W only (scikit-learn's `transform`).
#[pyfunction]
fn transform<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    h: &Bound<'py, PyAny>,
    spec: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    fn go<'py, T: Elem>(
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        h: &Bound<'py, PyAny>,
        spec: &Spec<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let x = input::<T>(x)?;
        let h = factor::<T>(h, "components_")?;
        let config = spec.config::<T>(Init::Auto)?;
        let data = x.data();
        let w = py
            .detach(|| nmf::solvers::transform_with_h(&config, h.as_ref(), data))
            .map_err(fit_error)?;
        Ok(to_numpy(py, w.as_ref()).into_any())
    }
    let spec = Spec(spec);
    // The array keeps X's dtype.
    if is_f32(x)? {
        go::<f32>(py, x, h, &spec)
    } else {
        go::<f64>(py, x, h, &spec)
    }
}

/// One `partial_fit` step: learns from the chunk X and returns the new state and the chunk's
/// fit. `state` is `None` on the first call, else `(H, A, B, rho, n_steps)`.
#[pyfunction]
#[pyo3(signature = (x, state, w, h, spec))]
fn partial_fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    state: Option<&Bound<'py, PyTuple>>,
    w: Option<&Bound<'py, PyAny>>,
    h: Option<&Bound<'py, PyAny>>,
    spec: Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    fn go<'py, T: Elem>(
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        state: Option<&Bound<'py, PyTuple>>,
        w: Option<&Bound<'py, PyAny>>,
        h: Option<&Bound<'py, PyAny>>,
        spec: &Spec<'py>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let x = input::<T>(x)?;
        let mut online = match state {
            None => spec.config::<T>(spec.init(w, h)?)?.online(),
            Some(s) => {
                let state = OnlineState {
                    h: factor(&s.get_item(0)?, "components_")?,
                    a: factor(&s.get_item(1)?, "_components_numerator")?,
                    b: factor(&s.get_item(2)?, "_components_denominator")?,
                    rho: s.get_item(3)?.extract()?,
                    n_steps: s.get_item(4)?.extract()?,
                };
                OnlineNmf::resume(&spec.config::<T>(Init::Auto)?, state)
            }
        }
        .map_err(fit_error)?;
        let data = x.data();
        py.detach(|| online.partial_fit(data).map(|_| ()))
            .map_err(fit_error)?;
        // The model's report counts the stream's steps; its online state is the new state.
        model_dict(py, online.model().expect("a chunk was learned"))
    }
    let spec = Spec(spec);
    if is_f32(x)? {
        go::<f32>(py, x, state, w, h, &spec)
    } else {
        go::<f64>(py, x, state, w, h, &spec)
    }
}

/// Runs `nmf grid-search` with these arguments (the command's flags, without the program and
/// subcommand names), writing its results folder; the GIL is released while it runs.
#[pyfunction]
fn grid_search(py: Python<'_>, args: Vec<String>) -> PyResult<()> {
    use clap::Parser;
    let argv = ["nmf".to_owned(), "grid-search".to_owned()]
        .into_iter()
        .chain(args);
    let cli = nmf_cli::Cli::try_parse_from(argv).map_err(|e| value_error(e.render()))?;
    py.detach(|| cli.run()).map_err(|e| {
        let msg = format!("{e:#}");
        if e.downcast_ref::<std::io::Error>().is_some() {
            PyOSError::new_err(msg)
        } else {
            PyValueError::new_err(msg)
        }
    })
}

/// The module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(transform, m)?)?;
    m.add_function(wrap_pyfunction!(partial_fit, m)?)?;
    m.add_function(wrap_pyfunction!(grid_search, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
