{{ config(unique_key='flight_date') }}

-- One row per (origin, local date, local hour) in the window [start_date, end_date).
-- The date column is named flight_date, the partition key shared by every daily model.
with source as (

    select * from {{ source('raw', 'weather') }}
    where {{ in_window('partition_date') }}

)

select
    cast(partition_date as date)                 as flight_date,
    cast(origin as {{ dbt.type_string() }})      as origin,
    cast(hour as {{ dbt.type_int() }})           as observation_hour,
    time_hour                                    as observed_at,
    cast(temp as {{ type_double() }})            as temp_f,
    cast(dewp as {{ type_double() }})            as dewpoint_f,
    cast(humid as {{ type_double() }})           as humidity_pct,
    cast(wind_dir as {{ type_double() }})        as wind_dir_deg,
    cast(wind_speed as {{ type_double() }})      as wind_speed_mph,
    cast(wind_gust as {{ type_double() }})       as wind_gust_mph,
    cast(precip as {{ type_double() }})          as precip_in,
    cast(pressure as {{ type_double() }})        as pressure_mb,
    cast(visib as {{ type_double() }})           as visibility_mi
from source
