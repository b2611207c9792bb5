select
    cast(faa as {{ dbt.type_string() }})    as airport_code,
    cast(name as {{ dbt.type_string() }})   as airport_name,
    cast(lat as {{ type_double() }})        as latitude,
    cast(lon as {{ type_double() }})        as longitude,
    cast(alt as {{ type_double() }})        as altitude_ft,
    cast(tz as {{ type_double() }})         as utc_offset_hours,
    cast(dst as {{ dbt.type_string() }})    as dst_rule,
    cast(tzone as {{ dbt.type_string() }})  as timezone
from {{ source('raw', 'airports') }}
