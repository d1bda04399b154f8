//! Vector output through GDAL/OGR: change objects as GeoJSON polygons. Outlines come from
//! GDAL's own raster polygonizer (GDALPolygonize) run on the object label grid, so every
//! polygon follows its cells exactly.

use super::{crs, IoError, Result};
use crate::analysis::objects::ChangeObject;
use crate::cloud::{Crs, CrsSource};
use gdal::raster::Buffer;
use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{
    Feature, FieldValue, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;
use std::path::Path;

/// Writes `objects` (ids matching the labels grid, 0 = none) as GeoJSON polygons with their
/// attributes, in the data CRS or, with `wgs84`, in EPSG:4326 (longitude, latitude).
/// Returns the number of features written.
#[allow(clippy::too_many_arguments)]
pub fn write_objects_geojson(
    path: &Path,
    labels: &[i32],
    width: usize,
    height: usize,
    geotransform: [f64; 6],
    data_crs: Option<&Crs>,
    objects: &[ChangeObject],
    wgs84: bool,
) -> Result<usize> {
    let fields = [
        ("id", OGRFieldType::OFTInteger),
        ("sign", OGRFieldType::OFTString),
        ("cells", OGRFieldType::OFTInteger),
        ("area_m2", OGRFieldType::OFTReal),
        ("volume_m3", OGRFieldType::OFTReal),
        ("volume_sigma_m3", OGRFieldType::OFTReal),
        ("mean_m", OGRFieldType::OFTReal),
        ("max_m", OGRFieldType::OFTReal),
        ("centre_x", OGRFieldType::OFTReal),
        ("centre_y", OGRFieldType::OFTReal),
    ];
    let props = |id: i32| {
        let o = objects.iter().find(|o| o.id == id)?;
        let mut v = vec![
            Some(FieldValue::IntegerValue(o.id)),
            Some(FieldValue::StringValue(o.sign.clone())),
            Some(FieldValue::IntegerValue(o.cells as i32)),
        ];
        v.extend(
            [
                o.area_m2,
                o.volume_m3,
                o.volume_sigma_m3,
                o.mean_m,
                o.max_m,
                o.centre[0],
                o.centre[1],
            ]
            .map(|x| Some(FieldValue::RealValue(x))),
        );
        Some(v)
    };
    let grid = LabelGrid {
        labels,
        width,
        height,
        geotransform,
    };
    write_polygons_geojson(
        path,
        &grid,
        data_crs,
        "change_objects",
        &fields,
        &props,
        wgs84,
    )
}

/// Object labels on a north-up grid (0 = no object).
pub struct LabelGrid<'a> {
    pub labels: &'a [i32],
    pub width: usize,
    pub height: usize,
    pub geotransform: [f64; 6],
}

/// The attributes of the object with a label, one per field (None = null); None: no feature.
pub type Properties<'a> = dyn Fn(i32) -> Option<Vec<Option<FieldValue>>> + 'a;

/// Writes the outline of every labelled region as a GeoJSON polygon with the attributes
/// `props` gives, in the data CRS or, with `wgs84`, in EPSG:4326. Returns the features written.
pub fn write_polygons_geojson(
    path: &Path,
    grid: &LabelGrid,
    data_crs: Option<&Crs>,
    layer_name: &str,
    fields: &[(&str, OGRFieldType::Type)],
    props: &Properties,
    wgs84: bool,
) -> Result<usize> {
    let (labels, width, height, geotransform) =
        (grid.labels, grid.width, grid.height, grid.geotransform);
    crs::quiet_gdal();
    let werr = |reason: String| IoError::Write {
        path: path.to_path_buf(),
        reason,
    };
    if labels.len() != width * height {
        return Err(werr("label grid size mismatch".into()));
    }
    let srs_of = |c: &Crs| -> Result<SpatialRef> {
        let mut s = SpatialRef::from_wkt(&c.wkt).map_err(|e| IoError::Crs(e.to_string()))?;
        s.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        Ok(s)
    };
    let data_srs = data_crs.map(srs_of).transpose()?;
    // Labels as an in-memory raster, polygonized into an in-memory layer.
    let mem = DriverManager::get_driver_by_name("MEM").map_err(|e| werr(e.to_string()))?;
    let mut ds = mem
        .create_with_band_type::<i32, _>("", width, height, 1)
        .map_err(|e| werr(e.to_string()))?;
    ds.set_geo_transform(&geotransform)
        .map_err(|e| werr(e.to_string()))?;
    let mut band = ds.rasterband(1).map_err(|e| werr(e.to_string()))?;
    let mut buf = Buffer::new((width, height), labels.to_vec());
    band.write((0, 0), (width, height), &mut buf)
        .map_err(|e| werr(e.to_string()))?;
    let vmem = DriverManager::get_driver_by_name("Memory").map_err(|e| werr(e.to_string()))?;
    let mut vds = vmem
        .create_vector_only("")
        .map_err(|e| werr(e.to_string()))?;
    let mut poly_layer = vds
        .create_layer(LayerOptions {
            name: "cells",
            srs: data_srs.as_ref(),
            ty: OGRwkbGeometryType::wkbPolygon,
            options: None,
        })
        .map_err(|e| werr(e.to_string()))?;
    poly_layer
        .create_defn_fields(&[("id", OGRFieldType::OFTInteger)])
        .map_err(|e| werr(e.to_string()))?;
    let opt = std::ffi::CString::new("8CONNECTED=8").map_err(|e| werr(e.to_string()))?;
    let mut opts = [opt.as_ptr() as *mut std::ffi::c_char, std::ptr::null_mut()];
    // SAFETY: the band and layer handles live for the call (ds, vds and poly_layer outlive
    // it); the band is its own mask, so label 0 (no object) is left out; no progress callback.
    let rv = unsafe {
        gdal_sys::GDALPolygonize(
            band.c_rasterband(),
            band.c_rasterband(),
            poly_layer.c_layer(),
            0,
            opts.as_mut_ptr(),
            None,
            std::ptr::null_mut(),
        )
    };
    if rv != gdal_sys::CPLErr::CE_None {
        return Err(werr("GDAL could not polygonize the change objects".into()));
    }
    let (out_srs, transform) = if wgs84 {
        let mut s = srs_of(&crs::from_epsg(4326, CrsSource::User)?)?;
        s.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        (Some(s), true)
    } else {
        (data_srs.clone(), false)
    };
    if transform && data_srs.is_none() {
        return Err(werr(
            "--wgs84 needs the data's CRS, and the epochs have none".into(),
        ));
    }
    let gj = DriverManager::get_driver_by_name("GeoJSON").map_err(|e| werr(e.to_string()))?;
    super::safe::write_file(path, |tmp| {
        let mut out = gj
            .create_vector_only(tmp)
            .map_err(|e| werr(e.to_string()))?;
        let layer = out
            .create_layer(LayerOptions {
                name: layer_name,
                srs: out_srs.as_ref(),
                ty: OGRwkbGeometryType::wkbPolygon,
                options: None,
            })
            .map_err(|e| werr(e.to_string()))?;
        layer
            .create_defn_fields(fields)
            .map_err(|e| werr(e.to_string()))?;
        let mut written = 0;
        let mut polys: Vec<(i32, gdal::vector::Geometry)> = Vec::new();
        for f in poly_layer.features() {
            let id = match f.field(0).map_err(|e| werr(e.to_string()))? {
                Some(FieldValue::IntegerValue(v)) => v,
                _ => continue,
            };
            if let Some(g) = f.geometry() {
                polys.push((id, g.clone()));
            }
        }
        polys.sort_by_key(|p| p.0);
        for (id, g) in polys {
            let Some(values) = props(id) else {
                continue;
            };
            let g = match (&out_srs, transform) {
                (Some(s), true) => g.transform_to(s).map_err(|e| werr(e.to_string()))?,
                _ => g,
            };
            let mut feat = Feature::new(layer.defn()).map_err(|e| werr(e.to_string()))?;
            let e = |r: gdal::errors::Result<()>| r.map_err(|e| werr(e.to_string()));
            for (k, v) in values.iter().enumerate() {
                match v {
                    Some(v) => e(feat.set_field(k, v))?,
                    None => e(feat.set_field_null(k))?,
                }
            }
            e(feat.set_geometry(g))?;
            e(feat.create(&layer))?;
            written += 1;
        }
        out.close().map_err(|e| werr(e.to_string()))?;
        Ok(written)
    })
}

/// A change object and its outline rings (data CRS or the file's).
pub type ObjectOutline = (ChangeObject, Vec<Vec<[f64; 2]>>);

/// A vector file GDAL opens, with at least one layer.
fn open_vector(path: &Path) -> Result<gdal::Dataset> {
    crs::quiet_gdal();
    let rerr = |reason: String| IoError::Vector {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(IoError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let ds = gdal::Dataset::open(path)
        .map_err(|e| rerr(format!("GDAL cannot open it as vector data ({e})")))?;
    if ds.layer_count() == 0 {
        return Err(rerr("no layer".into()));
    }
    Ok(ds)
}

/// Reads change objects written by `write_objects_geojson` (or any polygon GeoJSON with the
/// same attributes): each object with its outline rings, and the file's CRS.
pub fn read_objects_geojson(path: &Path) -> Result<(Vec<ObjectOutline>, Option<Crs>)> {
    let rerr = |reason: String| IoError::Vector {
        path: path.to_path_buf(),
        reason,
    };
    let ds = open_vector(path)?;
    let mut layer = ds.layer(0).map_err(|e| rerr(e.to_string()))?;
    let file_crs = layer
        .spatial_ref()
        .and_then(|s| crs::describe(&s, CrsSource::Wkt).ok());
    let mut out = Vec::new();
    for f in layer.features() {
        let idx = |name: &str| {
            f.field_index(name).map_err(|_| {
                rerr(format!(
                    "features have no \"{name}\" attribute: not change objects of Kizashi"
                ))
            })
        };
        let dbl = |name: &str| -> Result<f64> {
            Ok(f.field_as_double(idx(name)?)
                .map_err(|e| rerr(e.to_string()))?
                .unwrap_or(f64::NAN))
        };
        let id = f
            .field_as_integer(idx("id")?)
            .map_err(|e| rerr(e.to_string()))?
            .unwrap_or(0);
        let sign = match f
            .field_as_string(idx("sign")?)
            .map_err(|e| rerr(e.to_string()))?
            .as_deref()
        {
            Some("cut") => "cut",
            _ => "fill",
        }
        .to_string();
        let obj = ChangeObject {
            id,
            sign,
            cells: f
                .field_as_integer(idx("cells")?)
                .map_err(|e| rerr(e.to_string()))?
                .unwrap_or(0)
                .max(0) as usize,
            area_m2: dbl("area_m2")?,
            volume_m3: dbl("volume_m3")?,
            volume_sigma_m3: dbl("volume_sigma_m3")?,
            mean_m: dbl("mean_m")?,
            max_m: dbl("max_m")?,
            centre: [dbl("centre_x")?, dbl("centre_y")?],
        };
        let mut rings = Vec::new();
        if let Some(g) = f.geometry() {
            collect_rings(g, &mut rings);
        }
        out.push((obj, rings));
    }
    Ok((out, file_crs))
}

/// Every linear ring of a (multi)polygon, as x, y.
fn collect_rings(g: &gdal::vector::Geometry, out: &mut Vec<Vec<[f64; 2]>>) {
    if g.geometry_count() == 0 {
        if g.point_count() > 1 {
            out.push(
                (0..g.point_count() as i32)
                    .map(|i| {
                        let p = g.get_point(i);
                        [p.0, p.1]
                    })
                    .collect(),
            );
        }
        return;
    }
    for i in 0..g.geometry_count() {
        collect_rings(&g.get_geometry(i), out);
    }
}

/// Polygons of any vector file GDAL reads (GeoJSON, Shapefile, GeoPackage, KML...): every
/// feature as its rings (outer and holes), in `into` when the file states another CRS (a
/// GeoJSON drawn on a web map is in longitude/latitude), else as stored.
pub fn read_polygons(path: &Path, into: Option<&Crs>) -> Result<Vec<Vec<Vec<[f64; 2]>>>> {
    let rerr = |reason: String| IoError::Vector {
        path: path.to_path_buf(),
        reason,
    };
    let ds = open_vector(path)?;
    let mut layer = ds.layer(0).map_err(|e| rerr(e.to_string()))?;
    let file_crs = layer
        .spatial_ref()
        .and_then(|s| crs::describe(&s, CrsSource::Wkt).ok());
    let mut features = Vec::new();
    for f in layer.features() {
        let mut rings = Vec::new();
        if let Some(g) = f.geometry() {
            if !matches!(
                g.geometry_type(),
                OGRwkbGeometryType::wkbPolygon
                    | OGRwkbGeometryType::wkbMultiPolygon
                    | OGRwkbGeometryType::wkbPolygon25D
                    | OGRwkbGeometryType::wkbMultiPolygon25D
            ) {
                return Err(rerr(format!(
                    "feature {} is a {}, not a polygon",
                    features.len() + 1,
                    g.geometry_name()
                )));
            }
            collect_rings(g, &mut rings);
        }
        rings.retain(|r| r.len() >= 3);
        if !rings.is_empty() {
            features.push(rings);
        }
    }
    if features.is_empty() {
        return Err(rerr("no polygon in the file".into()));
    }
    let reproject = match (file_crs.as_ref(), into) {
        (Some(f), Some(t)) if !f.same_as(t) => Some((f, t)),
        _ => None,
    };
    if let Some((from, to)) = reproject {
        let t = crs::Transformer::new(from, to)?;
        for ring in features.iter_mut().flatten() {
            let (mut x, mut y): (Vec<f64>, Vec<f64>) = ring.iter().map(|p| (p[0], p[1])).unzip();
            t.apply(&mut x, &mut y, &mut [])?;
            for (p, (a, b)) in ring.iter_mut().zip(x.into_iter().zip(y)) {
                *p = [a, b];
            }
        }
    }
    Ok(features)
}

/// Whether `p` lies inside any feature (even-odd rule within a feature, so holes are holes).
pub fn inside_polygons(features: &[Vec<Vec<[f64; 2]>>], p: [f64; 2]) -> bool {
    features.iter().any(|rings| {
        let mut inside = false;
        for ring in rings {
            let mut j = ring.len() - 1;
            for i in 0..ring.len() {
                let (a, b) = (ring[i], ring[j]);
                if (a[1] > p[1]) != (b[1] > p[1])
                    && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
                {
                    inside = !inside;
                }
                j = i;
            }
        }
        inside
    })
}
