'use strict';
// The parent picker asks for goals that fit the type chosen in this form first: the form's
// type goes along with each autocomplete request of its parent field.
{
    const $ = django.jQuery;
    $.ajaxPrefilter(function(options) {
        const type = document.getElementById('id_type');
        if (!type || typeof options.data !== 'string') {
            return;
        }
        if (options.data.indexOf('field_name=parent') === -1) {
            return;
        }
        options.data += '&goal_type=' + encodeURIComponent(type.value);
    });
}
