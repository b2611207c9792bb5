select
    cast(tailnum as {{ dbt.type_string() }})       as tailnum,
    cast(year as {{ dbt.type_int() }})             as manufacture_year,
    cast(type as {{ dbt.type_string() }})          as aircraft_type,
    cast(manufacturer as {{ dbt.type_string() }})  as manufacturer,
    cast(model as {{ dbt.type_string() }})         as model,
    cast(engines as {{ dbt.type_int() }})          as engine_count,
    cast(seats as {{ dbt.type_int() }})            as seat_count,
    cast(speed as {{ dbt.type_int() }})            as cruise_speed_mph,
    cast(engine as {{ dbt.type_string() }})        as engine_type
from {{ source('raw', 'planes') }}
